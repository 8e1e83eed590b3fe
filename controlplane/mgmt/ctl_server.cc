#include "controlplane/mgmt/ctl_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace conc::cp::mgmt {

std::string CtlServer::open(const std::string& path, unsigned mode) {
    sockaddr_un address{};
    if (path.size() >= sizeof address.sun_path) return path + ": path too long for a Unix socket";
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    const std::string dir = path.substr(0, path.rfind('/'));
    if (!dir.empty()) mkdir(dir.c_str(), 0755);  // /run/concentrator on a fresh boot
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) return std::string("socket: ") + std::strerror(errno);
    unlink(path.c_str());  // a stale socket of an earlier run
    // Created with no access for anyone, then opened up to exactly mode.
    const mode_t old_mask = umask(0777);
    const int bound = bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    umask(old_mask);
    if (bound != 0 || chmod(path.c_str(), mode) != 0 || listen(listen_fd_, 16) != 0) {
        const std::string why = path + ": " + std::strerror(errno);
        close();
        return why;
    }
    path_ = path;
    return {};
}

void CtlServer::close() {
    for (const Client& c : clients_) ::close(c.fd);
    clients_.clear();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
    if (!path_.empty()) unlink(path_.c_str());
    path_.clear();
}

bool CtlServer::flush(Client& c) {
    while (c.sent < c.output.size()) {
        const ssize_t n = send(c.fd, c.output.data() + c.sent, c.output.size() - c.sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;  // the rest when it reads
        if (n <= 0) return false;
        c.sent += static_cast<size_t>(n);
        c.last_progress = Clock::now();
    }
    c.output.clear();
    c.sent = 0;
    return true;
}

void CtlServer::serve(Client& c, const std::function<std::string(std::string_view)>& handler) {
    for (size_t nl; !c.closing && c.output.empty() && (nl = c.input.find('\n')) != std::string::npos;) {
        c.output = handler(std::string_view(c.input).substr(0, nl)) + "\n";
        c.input.erase(0, nl + 1);
        c.last_progress = Clock::now();
        if (!flush(c)) {
            c.closing = true;
            c.output.clear();
        }
    }
    if (!c.closing && c.input.size() > kMaxRequest && c.input.find('\n') == std::string::npos) {
        c.output += "{\"error\": \"request too long\"}\n";
        c.closing = true;
        c.input.clear();
    }
}

void CtlServer::accept_clients() {
    for (;;) {
        const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            // Out of descriptors, the pending connection stays and the
            // listener stays readable: look again in a while, not at once.
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                accept_paused_until_ = Clock::now() + std::chrono::milliseconds(100);
            return;
        }
        if (clients_.size() >= kMaxClients) {
            const char busy[] = "{\"error\": \"too many management connections\"}\n";
            send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL);  // best effort: it is closed either way
            ::close(fd);
            continue;
        }
        clients_.push_back({fd, {}, {}, 0, false, Clock::now()});
    }
}

void CtlServer::poll(int timeout_ms, const std::function<std::string(std::string_view)>& handler) {
    std::vector<pollfd> fds;
    const bool listening = Clock::now() >= accept_paused_until_;
    fds.push_back({listening ? listen_fd_ : -1, POLLIN, 0});
    for (const Client& c : clients_) {
        // A client with a reply still going out is not read: its next
        // requests wait in the socket, and it cannot make us hold more.
        const short events = c.output.empty() ? POLLIN : POLLOUT;
        fds.push_back({c.fd, events, 0});
    }
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0) return;
    const Clock::time_point now = Clock::now();
    for (size_t i = 1; i < fds.size(); ++i) {
        Client& c = clients_[i - 1];
        const short revents = fds[i].revents;
        if (revents & POLLOUT) {
            if (!flush(c)) {
                c.closing = true;
                c.output.clear();
            }
        } else if (revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[1024];
            const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
            if (n > 0) {
                c.input.append(buf, static_cast<size_t>(n));
                c.last_progress = Clock::now();
            }
            else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                c.closing = true;
                c.output.clear();
            }
        }
        const auto quiet = now - c.last_progress;
        if (c.output.empty() ? quiet > std::chrono::milliseconds(kIdleMs)
                             : quiet > std::chrono::milliseconds(kStalledMs)) {
            c.closing = true;  // a reader that stopped reading, or a client that went quiet
            c.output.clear();
        }
        serve(c, handler);
    }
    // Closed once each: a second close could hit a reused descriptor.
    std::erase_if(clients_, [](const Client& c) {
        if (!c.closing || !c.output.empty()) return false;
        ::close(c.fd);
        return true;
    });
    if (fds[0].revents & POLLIN) accept_clients();
}

}  // namespace conc::cp::mgmt
