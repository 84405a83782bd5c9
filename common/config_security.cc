#include "common/config_security.h"

#include <cctype>
#include <cstdint>
#include <vector>

#include "common/quote.h"

namespace laneway::common {

namespace {

// uid_t is 32 bits; (uid_t)-1 means "no user" to the kernel's chown and setreuid.
constexpr int64_t kMaxUid = 0xfffffffeLL;

bool ReadUids(const toml::node& node, std::vector<uint32_t>* out, std::string* error) {
  const toml::array* arr = node.as_array();
  if (arr == nullptr) {
    *error = "expected an array of uids (integers), e.g. [1001, 1002]";
    return false;
  }
  std::vector<uint32_t> uids;
  for (size_t i = 0; i < arr->size(); ++i) {
    const auto* v = arr->get(i)->as_integer();
    if (v == nullptr) {
      *error = "element " + std::to_string(i) + ": expected an integer uid";
      return false;
    }
    if (v->get() < 0 || v->get() > kMaxUid) {
      *error = "element " + std::to_string(i) + ": " + std::to_string(v->get()) +
               " is out of range (expected 0.." + std::to_string(kMaxUid) + ")";
      return false;
    }
    uids.push_back(static_cast<uint32_t>(v->get()));
  }
  *out = std::move(uids);
  return true;
}

}  // namespace

bool IsValidGroupName(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char ch = static_cast<unsigned char>(name[i]);
    const bool first_ok = std::isalpha(ch) || ch == '_';
    const bool rest_ok = std::isalnum(ch) || ch == '_' || ch == '.' || ch == '-' ||
                         (ch == '$' && i + 1 == name.size());
    if (i == 0 ? !first_ok : !rest_ok) return false;
  }
  return true;
}

bool ReadSupervisorAccessKey(std::string_view name, const toml::node& node, SupervisorConfig& s,
                             std::string* error) {
  error->clear();
  if (name == "control_allow_uids") {
    ReadUids(node, &s.control_allow_uids, error);
    return true;
  }
  if (name == "control_allow_group") {
    const auto* v = node.as_string();
    if (v == nullptr) {
      *error = "expected a group name (a string)";
    } else if (!IsValidGroupName(v->get())) {
      *error = "bad group name " + Quote(v->get());
    } else {
      s.control_allow_group = v->get();
    }
    return true;
  }
  return false;
}

}  // namespace laneway::common
