// The management socket (controlplane/mgmt/ctl_server): requests and replies
// over a real Unix socket, and what a client that does not read, sends too
// much or comes too often can and cannot do to the loop that serves it.
#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "controlplane/mgmt/ctl_server.h"

using conc::cp::mgmt::CtlServer;

namespace {

class Peer {
public:
    explicit Peer(const std::string& path) {
        fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
        connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    }
    ~Peer() { close(fd_); }
    Peer(const Peer&) = delete;
    Peer& operator=(const Peer&) = delete;
    bool connected() const { return connected_; }
    void send_text(const std::string& s) {
        CPPUNIT_ASSERT_EQUAL(static_cast<ssize_t>(s.size()), send(fd_, s.data(), s.size(), MSG_NOSIGNAL));
    }
    // What has arrived, waiting at most wait_ms for the first bytes.
    std::string receive(int wait_ms = 0) {
        std::string got;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, wait_ms) <= 0) return got;
        char buf[65536];
        for (ssize_t n; (n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT)) > 0;) got.append(buf, static_cast<size_t>(n));
        return got;
    }
    // Whether the server closed the connection (end of stream after any data).
    bool closed_by_server() {
        char buf[4096];
        for (;;) {
            const ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
            if (n == 0) return true;
            if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
        }
    }

private:
    int fd_ = -1;
    bool connected_ = false;
};

// "big <n>" replies n bytes of 'x', anything else is echoed back.
std::string answer(std::string_view request) {
    if (request.substr(0, 4) == "big ") return std::string(std::stoul(std::string(request.substr(4))), 'x');
    return "echo " + std::string(request);
}

}  // namespace

class CtlServerTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(CtlServerTest);
    CPPUNIT_TEST(answers_each_line);
    CPPUNIT_TEST(a_client_that_does_not_read_holds_no_one_up);
    CPPUNIT_TEST(a_request_too_long_is_refused);
    CPPUNIT_TEST(too_many_clients_are_turned_away);
    CPPUNIT_TEST_SUITE_END();

public:
    void setUp() override {
        path_ = "/tmp/conc-ctl-test-" + std::to_string(getpid()) + ".sock";
        CPPUNIT_ASSERT_EQUAL(std::string(), server_.open(path_, 0600));
    }
    void tearDown() override { server_.close(); }

    // Serves until pred holds or a second has passed.
    template <typename Pred>
    bool serve_until(Pred pred) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (!pred()) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            server_.poll(1, answer);
        }
        return true;
    }

    void answers_each_line() {
        struct stat st {};
        CPPUNIT_ASSERT_EQUAL(0, stat(path_.c_str(), &st));
        CPPUNIT_ASSERT_EQUAL(0600u, static_cast<unsigned>(st.st_mode & 0777));
        Peer p(path_);
        CPPUNIT_ASSERT(p.connected());
        p.send_text("one\ntw");
        std::string got;
        CPPUNIT_ASSERT(serve_until([&] { return (got += p.receive()) == "echo one\n"; }));
        p.send_text("o\nthree\n");  // the rest of a line, then a whole one
        CPPUNIT_ASSERT(serve_until([&] { return (got += p.receive()) == "echo one\necho two\necho three\n"; }));
    }

    // A reply far larger than the socket buffer, to a client that reads
    // none of it, and more requests behind it: poll returns at once every
    // time, another client is answered meanwhile, the stuck one's requests
    // wait, and it gets everything once it reads.
    void a_client_that_does_not_read_holds_no_one_up() {
        Peer slow(path_), other(path_);
        CPPUNIT_ASSERT(slow.connected() && other.connected());
        const size_t big = 8u << 20;
        slow.send_text("big " + std::to_string(big) + "\nafter\n");
        CPPUNIT_ASSERT(serve_until([&] { return server_.clients() == 2; }));
        for (int i = 0; i < 5; ++i) {
            const auto start = std::chrono::steady_clock::now();
            server_.poll(0, answer);
            CPPUNIT_ASSERT(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(200));
        }
        other.send_text("ping\n");
        std::string got;
        CPPUNIT_ASSERT(serve_until([&] { return (got += other.receive()) == "echo ping\n"; }));
        std::string reply;
        CPPUNIT_ASSERT(serve_until([&] {
            reply += slow.receive();
            return reply.size() >= big + 1 + std::string("echo after\n").size();
        }));
        CPPUNIT_ASSERT_EQUAL(std::string(big, 'x') + "\necho after\n", reply);
    }

    void a_request_too_long_is_refused() {
        Peer p(path_);
        p.send_text(std::string(CtlServer::kMaxRequest + 10, 'a'));
        std::string got;
        CPPUNIT_ASSERT(serve_until([&] { return (got += p.receive()).find('\n') != std::string::npos; }));
        CPPUNIT_ASSERT_EQUAL(std::string("{\"error\": \"request too long\"}\n"), got);
        CPPUNIT_ASSERT(serve_until([&] { return server_.clients() == 0; }));
        CPPUNIT_ASSERT(p.closed_by_server());
    }

    void too_many_clients_are_turned_away() {
        std::vector<std::unique_ptr<Peer>> peers;
        // One at a time: a connect blocks while the listen backlog is full.
        for (size_t i = 0; i < CtlServer::kMaxClients; ++i) {
            peers.push_back(std::make_unique<Peer>(path_));
            CPPUNIT_ASSERT(serve_until([&] { return server_.clients() == i + 1; }));
        }
        Peer one_more(path_);
        std::string got;
        CPPUNIT_ASSERT(serve_until([&] { return (got += one_more.receive()).find('\n') != std::string::npos; }));
        CPPUNIT_ASSERT_EQUAL(std::string("{\"error\": \"too many management connections\"}\n"), got);
        CPPUNIT_ASSERT(one_more.closed_by_server());
        CPPUNIT_ASSERT_EQUAL(CtlServer::kMaxClients, server_.clients());
        // Those in are still served.
        peers.back()->send_text("last\n");
        got.clear();
        CPPUNIT_ASSERT(serve_until([&] { return (got += peers.back()->receive()) == "echo last\n"; }));
        // One leaves: its place is free again.
        peers.pop_back();
        CPPUNIT_ASSERT(serve_until([&] { return server_.clients() == CtlServer::kMaxClients - 1; }));
    }

private:
    std::string path_;
    CtlServer server_;
};

CPPUNIT_TEST_SUITE_REGISTRATION(CtlServerTest);
