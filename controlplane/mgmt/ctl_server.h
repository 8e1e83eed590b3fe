// The management socket: a Unix stream socket (path and mode from the
// config's mgmt section) where each request is one line of JSON and each
// reply one line of JSON. Served from the control plane's main loop.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace conc::cp::mgmt {

class CtlServer {
public:
    ~CtlServer() { close(); }
    // Empty on success, else why the socket could not be opened.
    std::string open(const std::string& path, unsigned mode);
    void close();
    // Waits up to timeout_ms for requests and answers each with handler.
    void poll(int timeout_ms, const std::function<std::string(std::string_view)>& handler);

private:
    struct Client {
        int fd;
        std::string pending;
    };
    static constexpr size_t kMaxRequest = 4096;
    int listen_fd_ = -1;
    std::string path_;
    std::vector<Client> clients_;
};

}  // namespace conc::cp::mgmt
