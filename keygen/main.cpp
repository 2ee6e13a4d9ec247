// zlb-keygen: writes a CurveZMQ key pair, PREFIX.key (secret, 0600) and PREFIX.pub.
#include "core/curve.hpp"

#include "core/process.hpp"

#include <CLI/CLI.hpp>

#include <filesystem>

int main(int argc, char** argv) {
    CLI::App app{"zlb-keygen: writes a CURVE key pair as PREFIX.key (keep secret) and PREFIX.pub\n"
                 "Give servers --curve-secret server.key --curve-allow DIR (client .pub files);\n"
                 "give clients --curve-server-key server.pub --curve-secret client.key."};
    std::string prefix;
    bool force = false;
    app.add_option("prefix", prefix, "Path prefix of the two files, e.g. keys/client1")->required();
    app.add_flag("-f,--force", force, "Overwrite existing files");
    app.set_version_flag("--version", std::string("zlb-keygen ") + zlb::version());
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    try {
        for (const char* ext : {".key", ".pub"})
            if (!force && std::filesystem::exists(prefix + ext))
                throw std::runtime_error(prefix + ext + " exists (use --force to replace it)");
        zlb::curve_keypair_write(prefix, zlb::curve_keypair_generate(), force);
        std::printf("%s.key\n%s.pub\n", prefix.c_str(), prefix.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "zlb-keygen: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
