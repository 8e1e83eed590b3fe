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

namespace {

bool send_all(int fd, const std::string& data) {
    for (size_t done = 0; done < data.size();) {
        const ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{fd, POLLOUT, 0};
            if (::poll(&p, 1, 1000) <= 0) return false;  // a reader that stopped reading is dropped
            continue;
        }
        if (n <= 0) return false;
        done += static_cast<size_t>(n);
    }
    return true;
}

}  // namespace

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

void CtlServer::poll(int timeout_ms, const std::function<std::string(std::string_view)>& handler) {
    std::vector<pollfd> fds;
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const Client& c : clients_) fds.push_back({c.fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), timeout_ms) <= 0) return;
    std::vector<int> closed;
    for (size_t i = 1; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        Client& c = clients_[i - 1];
        char buf[1024];
        const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
        if (n <= 0) {
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            closed.push_back(c.fd);
            continue;
        }
        c.pending.append(buf, static_cast<size_t>(n));
        bool gone = false;
        for (size_t nl; !gone && (nl = c.pending.find('\n')) != std::string::npos;) {
            const std::string request = c.pending.substr(0, nl);
            c.pending.erase(0, nl + 1);
            gone = !send_all(c.fd, handler(request) + "\n");
        }
        if (gone) {
            closed.push_back(c.fd);  // once: a second close could hit a reused descriptor
        } else if (c.pending.size() > kMaxRequest) {
            send_all(c.fd, "{\"error\": \"request too long\"}\n");
            closed.push_back(c.fd);
        }
    }
    for (int fd : closed) {
        ::close(fd);
        std::erase_if(clients_, [fd](const Client& c) { return c.fd == fd; });
    }
    if (fds[0].revents & POLLIN) {
        for (int fd; (fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;)
            clients_.push_back({fd, {}});
    }
}

}  // namespace conc::cp::mgmt
