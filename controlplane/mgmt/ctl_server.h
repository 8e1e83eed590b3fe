// The management socket: a Unix stream socket (path and mode from the
// config's mgmt section) where each request is one line of JSON and each
// reply one line of JSON. Served from the control plane's main loop, which
// also serves the data plane's punts: nothing here waits on a client. A reply
// goes out as fast as its client reads it; until it has gone, that client's
// next requests wait unread (a client that never reads holds one reply's
// memory and nothing else, and is dropped after kStalledMs without progress).
// A client that sends nothing for kIdleMs is dropped too, so that idle
// connections cannot keep the kMaxClients places.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace conc::cp::mgmt {

class CtlServer {
public:
    static constexpr size_t kMaxRequest = 4096;
    static constexpr size_t kMaxClients = 64;
    static constexpr int kStalledMs = 30000;
    static constexpr int kIdleMs = 300000;

    ~CtlServer() { close(); }
    // Empty on success, else why the socket could not be opened.
    std::string open(const std::string& path, unsigned mode);
    void close();
    // Waits up to timeout_ms for requests or room to send, answers each
    // request with handler and sends what the clients can take.
    void poll(int timeout_ms, const std::function<std::string(std::string_view)>& handler);
    size_t clients() const { return clients_.size(); }

private:
    using Clock = std::chrono::steady_clock;
    struct Client {
        int fd;
        std::string input;   // what came after the last whole request
        std::string output;  // reply bytes not sent yet
        size_t sent = 0;     // of output
        bool closing = false;  // close once output has gone
        Clock::time_point last_progress;  // bytes received or sent
    };
    // Answers the client's whole requests while its replies go out at once.
    void serve(Client& c, const std::function<std::string(std::string_view)>& handler);
    // Sends what the socket takes; false if the client is gone.
    static bool flush(Client& c);
    void accept_clients();

    int listen_fd_ = -1;
    std::string path_;
    std::vector<Client> clients_;
    Clock::time_point accept_paused_until_{};  // out of descriptors: the listener is not polled till then
};

}  // namespace conc::cp::mgmt
