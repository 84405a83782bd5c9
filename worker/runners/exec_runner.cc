#include "worker/runners/exec_runner.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <cerrno>
#include <cstring>

namespace laneway::worker {

namespace bp = boost::process;

namespace {

// In the child before exec: nothing but stdio survives exec (the worker's zmq,
// lock and transcript descriptors stay with the worker).
struct CloseInherited : bp::extend::handler {
  template <typename Executor>
  void on_exec_setup(Executor&) const {
    ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
  }
};

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

std::string Tail(const std::string& s, size_t n) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

}  // namespace

TurnOutput ExecRunner::Run(const TurnInput& input, RunContext& context) {
  if (command_.empty()) return {false, "exec runner has no command"};
  try {
    bp::pipe in_pipe, out_pipe, err_pipe;
    bp::environment env = boost::this_process::environment();
    env["LANEWAY_AGENT"] = input.agent;
    env["LANEWAY_SESSION"] = input.session;
    env["LANEWAY_TURN_ID"] = std::to_string(input.turn_id);
    env["LANEWAY_TRANSCRIPT"] = input.transcript_path;
    std::vector<std::string> args(command_.begin() + 1, command_.end());
    std::string program = command_[0];
    if (program.find('/') == std::string::npos) {
      auto found = bp::search_path(program);
      if (found.empty()) return {false, "command not found: " + program};
      program = found.string();
    }
    bp::child child(bp::exe = program, bp::args = args, bp::env = env,
                    bp::std_in<in_pipe, bp::std_out> out_pipe, bp::std_err > err_pipe,
                    CloseInherited{});
    // Our copies of the child's ends must go, or EOF never comes; the ends we keep
    // are taken out of the pipe objects and closed by us.
    auto take = [](bp::pipe& p, bool keep_sink) {
      int keep = keep_sink ? p.native_sink() : p.native_source();
      ::close(keep_sink ? p.native_source() : p.native_sink());
      p.assign_source(-1);
      p.assign_sink(-1);
      return keep;
    };
    int in_fd = take(in_pipe, true);
    int out_fd = take(out_pipe, false);
    int err_fd = take(err_pipe, false);
    auto close_fd = [](int& fd) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    };
    SetNonBlocking(in_fd);
    SetNonBlocking(out_fd);
    SetNonBlocking(err_fd);

    std::string out, err;
    size_t written = 0;
    bool too_large = false;
    if (input.message.empty()) close_fd(in_fd);
    char buf[65536];
    while (out_fd >= 0 || err_fd >= 0) {
      pollfd fds[3];
      int n = 0;
      int in_idx = -1, out_idx = -1, err_idx = -1;
      if (in_fd >= 0) fds[in_idx = n++] = {in_fd, POLLOUT, 0};
      if (out_fd >= 0) fds[out_idx = n++] = {out_fd, POLLIN, 0};
      if (err_fd >= 0) fds[err_idx = n++] = {err_fd, POLLIN, 0};
      if (::poll(fds, static_cast<nfds_t>(n), -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (in_idx >= 0 && fds[in_idx].revents) {
        ssize_t w = ::write(in_fd, input.message.data() + written, input.message.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) written = input.message.size();  // EPIPE
        if (written >= input.message.size()) close_fd(in_fd);
      }
      if (out_idx >= 0 && fds[out_idx].revents) {
        ssize_t r = ::read(out_fd, buf, sizeof buf);
        if (r > 0) {
          out.append(buf, static_cast<size_t>(r));
          if (out.size() > max_reply_bytes_) {
            too_large = true;
            ::kill(child.id(), SIGKILL);
            close_fd(out_fd);
          }
        } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
          close_fd(out_fd);
        }
      }
      if (err_idx >= 0 && fds[err_idx].revents) {
        ssize_t r = ::read(err_fd, buf, sizeof buf);
        if (r > 0) {
          err.append(buf, static_cast<size_t>(r));
          if (err.size() > 4 * kStderrTailBytes) err = Tail(err, kStderrTailBytes);
        } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
          close_fd(err_fd);
        }
      }
    }
    close_fd(in_fd);
    int status = 0;
    while (::waitpid(child.id(), &status, 0) < 0 && errno == EINTR) {
    }
    child.detach();  // reaped above
    if (too_large) {
      return {false,
              "reply exceeds " + std::to_string(max_reply_bytes_) + " bytes; command killed"};
    }
    if (WIFSIGNALED(status)) {
      return {false, "command killed by signal " + std::to_string(WTERMSIG(status)) +
                         (err.empty() ? "" : ": " + Tail(err, kStderrTailBytes))};
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code != 0) {
      return {false, "command exited with status " + std::to_string(code) +
                         (err.empty() ? "" : ": " + Tail(err, kStderrTailBytes))};
    }
    return {true, std::move(out)};
  } catch (const std::exception& e) {
    return {false, std::string("cannot run command: ") + e.what()};
  }
}

}  // namespace laneway::worker
