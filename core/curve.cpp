#include "core/curve.hpp"

#include <zmq.h>

#include <fstream>
#include <stdexcept>
#include <sys/stat.h>

namespace zlb {
namespace {

constexpr std::size_t kZ85KeyChars = 40;

// Lines look like `public = <z85>`; '#' starts a comment. Returns the value or "".
std::string field_read(const std::string& path, const std::string& name) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read key file " + path);
    std::string line;
    while (std::getline(in, line)) {
        auto eq = line.find('=');
        if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
        auto key = line.substr(0, line.find_first_of(" =\t"));
        auto value = line.substr(line.find_first_not_of(" \t", eq + 1));
        value = value.substr(0, value.find_last_not_of(" \t\r") + 1);
        if (key == name) return value;
    }
    return "";
}

std::string key_checked(const std::string& z85, const std::string& path, const char* what) {
    if (curve_z85_decode(z85).empty())
        throw std::runtime_error(path + ": no valid " + what + " key (40 Z85 characters)");
    return z85;
}

} // namespace

CurveKeyPair curve_keypair_generate() {
    char pub[kZ85KeyChars + 1], sec[kZ85KeyChars + 1];
    if (zmq_curve_keypair(pub, sec) != 0)
        throw std::runtime_error("libzmq has no CURVE support (zmq_curve_keypair failed)");
    return {pub, sec};
}

void curve_keypair_write(const std::string& prefix, const CurveKeyPair& keys) {
    std::string secret_path = prefix + ".key", public_path = prefix + ".pub";
    {
        // Created 0600 from the start, so the secret is never readable by others.
        std::ofstream touch(secret_path, std::ios::trunc);
        if (!touch || ::chmod(secret_path.c_str(), 0600) != 0)
            throw std::runtime_error("cannot write " + secret_path);
    }
    std::ofstream sec(secret_path, std::ios::trunc);
    sec << "# zlb CURVE key pair: keep secret\npublic = " << keys.public_z85
        << "\nsecret = " << keys.secret_z85 << "\n";
    std::ofstream pub(public_path, std::ios::trunc);
    pub << "public = " << keys.public_z85 << "\n";
    if (!sec || !pub) throw std::runtime_error("cannot write " + prefix + ".{key,pub}");
}

CurveKeyPair curve_secret_read(const std::string& path) {
    CurveKeyPair k{field_read(path, "public"), field_read(path, "secret")};
    key_checked(k.secret_z85, path, "secret");
    key_checked(k.public_z85, path, "public");
    return k;
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
