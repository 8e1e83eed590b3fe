// concentratorctl: the operator's command line for a running concentrator.
// Sends one request to concentrator-cp's management socket and prints the
// reply: a human table by default, the JSON with --json.
#include <getopt.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/config/config.h"
#include "common/json/json.h"

using namespace conc;

namespace {

void usage(const char* prog) {
    std::fprintf(stderr,
                 "usage: %s [-s SOCKET | -c CONFIG] [--json] COMMAND\n"
                 "commands:\n"
                 "  show sessions   L2TP sessions: ids, client addresses, MTU, peer, counters\n"
                 "  show sas        IPsec SAs: SPI, transform, peer, sessions, counters\n"
                 "  show stats      ports, per-worker and per-drop-reason counters, control plane\n"
                 "options:\n"
                 "  -s, --socket PATH   management socket (default /run/concentrator/concentrator.sock)\n"
                 "  -c, --config FILE   take the socket from this config's mgmt.socket\n"
                 "  -j, --json          print JSON instead of a table\n",
                 prog);
}

}  // namespace

int main(int argc, char** argv) {
    std::string socket_path = config::MgmtConfig{}.socket;
    bool json = false;
    static const option options[] = {{"socket", required_argument, nullptr, 's'},
                                     {"config", required_argument, nullptr, 'c'},
                                     {"json", no_argument, nullptr, 'j'},
                                     {"help", no_argument, nullptr, 'h'},
                                     {nullptr, 0, nullptr, 0}};
    for (int opt; (opt = getopt_long(argc, argv, "s:c:jh", options, nullptr)) != -1;) {
        switch (opt) {
            case 's': socket_path = optarg; break;
            case 'c': {
                config::LoadResult loaded = config::load_file(optarg);
                if (!loaded.config) {
                    for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.c_str());
                    return 1;
                }
                socket_path = loaded.config->mgmt.socket;
                break;
            }
            case 'j': json = true; break;
            case 'h': usage(argv[0]); return 0;
            default: usage(argv[0]); return 2;
        }
    }
    std::string command;
    for (int i = optind; i < argc; ++i) command += (command.empty() ? "" : " ") + std::string(argv[i]);
    if (command.empty()) {
        usage(argv[0]);
        return 2;
    }

    sockaddr_un address{};
    if (socket_path.size() >= sizeof address.sun_path) {
        std::fprintf(stderr, "concentratorctl: %s: path too long\n", socket_path.c_str());
        return 1;
    }
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        std::fprintf(stderr, "concentratorctl: cannot connect to %s: %s (is concentrator-cp running?)\n",
                     socket_path.c_str(), std::strerror(errno));
        return 1;
    }
    const std::string request = "{\"command\": \"" + json::json_escape(command) +
                                "\", \"json\": " + (json ? "true" : "false") + "}\n";
    // MSG_NOSIGNAL: a control plane that closed first is an error message, not SIGPIPE.
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
        std::fprintf(stderr, "concentratorctl: cannot send the request: %s\n", std::strerror(errno));
        return 1;
    }
    std::string reply;
    char buf[65536];
    for (ssize_t n; reply.find('\n') == std::string::npos && (n = read(fd, buf, sizeof buf)) > 0;)
        reply.append(buf, static_cast<size_t>(n));
    close(fd);
    if (reply.empty() || reply.back() != '\n') {
        std::fprintf(stderr, "concentratorctl: no reply from %s\n", socket_path.c_str());
        return 1;
    }
    reply.pop_back();
    if (auto error = json::json_string_member(reply, "error"); error && reply.starts_with("{\"error\"")) {
        std::fprintf(stderr, "concentratorctl: %s\n", error->c_str());
        return 1;
    }
    if (auto text = json::json_string_member(reply, "text"); text && reply.starts_with("{\"text\"")) {
        std::fputs(text->c_str(), stdout);
        return 0;
    }
    std::printf("%s\n", reply.c_str());
    return 0;
}
