#include "core/curve.hpp"

#include "core/unique_fd.hpp"

#include <zmq.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <stdexcept>

namespace zlb {
namespace {

constexpr std::size_t kZ85KeyChars = 40;

std::string_view trimmed(std::string_view s) {
    auto first = s.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

// One `name = value` line of a key file, and where it was.
struct Field {
    std::string value;
    int line = 0; // 0: not in the file
};

// Lines look like `public = <z85>`; '#' starts a comment, blank lines are skipped.
// Anything else names the file and the line.
Field field_read(const std::string& path, std::string_view name) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read key file " + path + ": " + std::strerror(errno));
    std::string text;
    Field found;
    for (int number = 1; std::getline(in, text); ++number) {
        std::string_view line = trimmed(text);
        if (line.empty() || line[0] == '#') continue;
        auto eq = line.find('=');
        auto where = [&] { return path + ":" + std::to_string(number) + ": "; };
        if (eq == std::string_view::npos)
            throw std::runtime_error(where() + "expected `name = value`");
        std::string_view key = trimmed(line.substr(0, eq)), value = trimmed(line.substr(eq + 1));
        if (key != name) continue;
        if (value.empty()) throw std::runtime_error(where() + std::string(name) + " has no value");
        found = {std::string(value), number};
    }
    return found;
}

std::string key_checked(const Field& f, const std::string& path, const char* what) {
    if (f.line == 0) throw std::runtime_error(path + ": no `" + what + " = ...` line");
    if (curve_z85_decode(f.value).empty())
        throw std::runtime_error(path + ":" + std::to_string(f.line) + ": the " + what +
                                 " key is not 40 Z85 characters");
    return f.value;
}

// Creates path with `mode` from the start (O_EXCL: never through an existing file or
// a planted symlink) and writes text to it.
void file_create(const std::string& path, const std::string& text, mode_t mode) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (!fd) throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
    std::string_view left = text;
    while (!left.empty()) {
        ssize_t n = ::write(fd.get(), left.data(), left.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
        left.remove_prefix(static_cast<std::size_t>(n));
    }
}

} // namespace

CurveKeyPair curve_keypair_generate() {
    char pub[kZ85KeyChars + 1], sec[kZ85KeyChars + 1];
    if (zmq_curve_keypair(pub, sec) != 0)
        throw std::runtime_error("libzmq has no CURVE support (zmq_curve_keypair failed)");
    return {pub, sec};
}

void curve_keypair_write(const std::string& prefix, const CurveKeyPair& keys, bool replace) {
    std::string secret_path = prefix + ".key", public_path = prefix + ".pub";
    if (replace)
        for (const auto& p : {secret_path, public_path}) ::unlink(p.c_str());
    // The secret file is 0600 from the moment it exists, never readable by others.
    file_create(secret_path,
                "# zlb CURVE key pair: keep secret\npublic = " + keys.public_z85 +
                    "\nsecret = " + keys.secret_z85 + "\n",
                0600);
    file_create(public_path, "public = " + keys.public_z85 + "\n", 0644);
}

CurveKeyPair curve_secret_read(const std::string& path) {
    Field pub = field_read(path, "public"), sec = field_read(path, "secret");
    return {key_checked(pub, path, "public"), key_checked(sec, path, "secret")};
}

std::string curve_public_read(const std::string& path) {
    return key_checked(field_read(path, "public"), path, "public");
}

std::string curve_z85_decode(const std::string& z85) {
    if (z85.size() != kZ85KeyChars) return "";
    std::string raw(32, '\0');
    if (!zmq_z85_decode(reinterpret_cast<std::uint8_t*>(raw.data()), z85.c_str())) return "";
    return raw;
}

} // namespace zlb
