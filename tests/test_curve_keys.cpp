// CURVE key files: written 0600 from the start, never over an existing file unless
// asked, and every malformed file refused with its name and line.
#include "core/curve.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;

struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "zlb-keys-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() { fs::remove_all(path); }
    std::string write(const std::string& name, const std::string& text) const {
        std::ofstream(path / name) << text;
        return (path / name).string();
    }
};

// The message of the exception f throws, or "" when it throws none.
template <class F> std::string error_of(F&& f) {
    try {
        f();
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("a written key pair reads back, the secret file is 0600") {
    TempDir dir;
    std::string prefix = (dir.path / "server").string();
    auto keys = zlb::curve_keypair_generate();
    zlb::curve_keypair_write(prefix, keys, false);
    struct stat st{};
    REQUIRE(::stat((prefix + ".key").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto back = zlb::curve_secret_read(prefix + ".key");
    CHECK(back.public_z85 == keys.public_z85);
    CHECK(back.secret_z85 == keys.secret_z85);
    CHECK(zlb::curve_public_read(prefix + ".pub") == keys.public_z85);
}

TEST_CASE("an existing key file is kept unless replace is asked for") {
    TempDir dir;
    std::string prefix = (dir.path / "k").string();
    dir.write("k.key", "precious\n");
    auto keys = zlb::curve_keypair_generate();
    CHECK(error_of([&] { zlb::curve_keypair_write(prefix, keys, false); }).find("k.key") !=
          std::string::npos);
    std::ifstream in(prefix + ".key");
    std::string first;
    std::getline(in, first);
    CHECK(first == "precious");
    zlb::curve_keypair_write(prefix, keys, true);
    CHECK(zlb::curve_secret_read(prefix + ".key").public_z85 == keys.public_z85);
}

TEST_CASE("malformed key files are refused with the file and the line") {
    TempDir dir;
    auto keys = zlb::curve_keypair_generate();
    struct Case {
        const char* text;
        const char* expect; // part of the message after the path
    };
    const Case cases[] = {
        {"public =\n", ":1: public has no value"},
        {"# comment\n\npublic =   \t\n", ":3: public has no value"},
        {"public = short\n", ":1: the public key is not 40 Z85 characters"},
        {"just some words\n", ":1: expected `name = value`"},
        {"secret = x\n", "no `public = ...` line"},
        {"", "no `public = ...` line"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        std::string path = dir.write("bad.pub", c.text);
        std::string message = error_of([&] { zlb::curve_public_read(path); });
        CHECK(message.find(path) == 0);
        CHECK(message.find(c.expect) != std::string::npos);
    }
    std::string path = dir.write("half.key", "public = " + keys.public_z85 + "\nsecret =\n");
    CHECK(error_of([&] { zlb::curve_secret_read(path); }).find(":2: secret has no value") !=
          std::string::npos);
    CHECK(error_of([&] { zlb::curve_public_read((dir.path / "missing.pub").string()); })
              .find("cannot read key file") != std::string::npos);
}
