#include "worker/runners/exec_runner.h"

#include <dirent.h>
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
#include <chrono>
#include <cstdlib>
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

// SIGKILL to every process of this worker's process group but the worker itself.
void KillGroupLeftovers() {
  const pid_t self = ::getpid();
  const pid_t group = ::getpgrp();
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0 || pid == self) continue;
    if (::getpgid(static_cast<pid_t>(pid)) == group) ::kill(static_cast<pid_t>(pid), SIGKILL);
  }
  ::closedir(d);
}

std::string Tail(const std::string& s, size_t n) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

}  // namespace

TurnOutput ExecRunner::Run(const TurnInput& input, RunContext& context) {
  if (command_.empty()) return {false, "exec runner has no command", {}};
  try {
    bp::pipe in_pipe, out_pipe, err_pipe;
    bp::environment env = boost::this_process::environment();
    // set(), not env["..."]: Boost 1.74's operator[] finds the name with a compare
    // that reads past the end of every shorter variable (AddressSanitizer's
    // heap-buffer-overflow in environment.hpp's find); set() checks the length.
    env.set("LANEWAY_AGENT", input.agent);
    env.set("LANEWAY_SESSION", input.session);
    env.set("LANEWAY_TURN_ID", std::to_string(input.turn_id));
    env.set("LANEWAY_TRANSCRIPT", input.transcript_path);
    std::vector<std::string> args(command_.begin() + 1, command_.end());
    std::string program = command_[0];
    if (program.find('/') == std::string::npos) {
      auto found = bp::search_path(program);
      if (found.empty()) return {false, "command not found: " + program + " (not on PATH)", {}};
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
    // The reply is complete when the command exits: a background child that keeps
    // stdout open (`sleep 30 &`) must not turn an instant reply into a timeout. After
    // the exit the pipes are drained for at most kDrainAfterExit; whatever the
    // command left running is killed with the worker's group by the supervisor.
    int status = 0;
    bool exited = false;
    std::chrono::steady_clock::time_point drain_until{};
    while (out_fd >= 0 || err_fd >= 0 || !exited) {
      if (!exited) {
        pid_t r = ::waitpid(child.id(), &status, WNOHANG);
        if (r == child.id()) {
          exited = true;
          drain_until = std::chrono::steady_clock::now() + kDrainAfterExit;
        }
      }
      if (exited && std::chrono::steady_clock::now() >= drain_until) break;
      if (exited && out_fd < 0 && err_fd < 0) break;
      pollfd fds[3];
      int n = 0;
      int in_idx = -1, out_idx = -1, err_idx = -1;
      if (in_fd >= 0) fds[in_idx = n++] = {in_fd, POLLOUT, 0};
      if (out_fd >= 0) fds[out_idx = n++] = {out_fd, POLLIN, 0};
      if (err_fd >= 0) fds[err_idx = n++] = {err_fd, POLLIN, 0};
      // Short timeouts: the exit is noticed by waitpid above, not by a pipe event.
      if (::poll(fds, static_cast<nfds_t>(n), exited ? 10 : 20) < 0) {
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
          } else {
            context.Emit(std::string_view(buf, static_cast<size_t>(r)));
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
    const bool pipes_held = out_fd >= 0 || err_fd >= 0;  // someone else still has them
    close_fd(in_fd);
    close_fd(out_fd);
    close_fd(err_fd);
    // Whatever the command left running in our process group (it is ours: the
    // command does not get a group of its own, so that the supervisor's kill of the
    // group reaches it) ends with the turn.
    if (pipes_held) KillGroupLeftovers();
    if (!exited) {
      while (::waitpid(child.id(), &status, 0) < 0 && errno == EINTR) {
      }
    }
    child.detach();  // reaped above
    TurnOutput result;
    if (!err.empty()) {
      result.meta = common::Value::MakeMap();
      result.meta.Set("stderr_tail", Tail(err, kStderrTailBytes));
    }
    if (too_large) {
      result.text = "reply exceeds " + std::to_string(max_reply_bytes_) + " bytes; command killed";
      return result;
    }
    if (WIFSIGNALED(status)) {
      const char* name = sigabbrev_np(WTERMSIG(status));
      result.text = "command " + command_[0] + " killed by signal " +
                    (name ? std::string("SIG") + name : std::to_string(WTERMSIG(status))) +
                    (err.empty() ? "" : ": " + Tail(err, kStderrTailBytes));
      return result;
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code != 0) {
      result.text = "command " + command_[0] + " exited with status " + std::to_string(code) +
                    (err.empty() ? "" : ": " + Tail(err, kStderrTailBytes));
      return result;
    }
    result.ok = true;
    result.text = std::move(out);
    return result;
  } catch (const std::exception& e) {
    return {false, "cannot run command " + command_[0] + ": " + e.what(), {}};
  }
}

}  // namespace laneway::worker
