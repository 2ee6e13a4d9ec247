#include "report/json_read.hpp"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace zlb::report {
namespace {

class Parser {
public:
    explicit Parser(std::string_view text) : s_(text) {}

    JsonValue document() {
        JsonValue v = value(0);
        blanks();
        if (at_ != s_.size()) fail("text after the value");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw std::runtime_error("JSON at byte " + std::to_string(at_) + ": " + what);
    }
    void blanks() {
        while (at_ < s_.size() && (s_[at_] == ' ' || s_[at_] == '\n' || s_[at_] == '\t' || s_[at_] == '\r')) ++at_;
    }
    bool take(std::string_view word) {
        if (s_.substr(at_, word.size()) != word) return false;
        at_ += word.size();
        return true;
    }
    JsonValue value(int depth) {
        if (depth > kMaxJsonDepth) fail("nested too deep");
        blanks();
        if (at_ >= s_.size()) fail("a value is missing");
        JsonValue v;
        const char c = s_[at_];
        if (c == '{') {
            v.type = JsonValue::Type::object;
            ++at_;
            blanks();
            if (take("}")) return v;
            while (true) {
                blanks();
                if (at_ >= s_.size() || s_[at_] != '"') fail("a member name is missing");
                std::string key = string();
                blanks();
                if (!take(":")) fail("':' is missing");
                v.object.insert_or_assign(std::move(key), value(depth + 1));
                blanks();
                if (take("}")) return v;
                if (!take(",")) fail("',' or '}' is missing");
            }
        }
        if (c == '[') {
            v.type = JsonValue::Type::array;
            ++at_;
            blanks();
            if (take("]")) return v;
            while (true) {
                v.array.push_back(value(depth + 1));
                blanks();
                if (take("]")) return v;
                if (!take(",")) fail("',' or ']' is missing");
            }
        }
        if (c == '"') {
            v.type = JsonValue::Type::string;
            v.string = string();
            return v;
        }
        if (take("true") || take("false")) {
            v.type = JsonValue::Type::boolean;
            v.boolean = s_[at_ - 1] == 'e' && s_[at_ - 2] == 'u';
            return v;
        }
        if (take("null")) return v;
        std::size_t end = at_;
        while (end < s_.size() && std::string_view("+-.0123456789eE").find(s_[end]) != std::string_view::npos) ++end;
        const std::string digits(s_.substr(at_, end - at_));
        char* stop = nullptr;
        v.number = std::strtod(digits.c_str(), &stop);
        if (digits.empty() || stop != digits.c_str() + digits.size() || !std::isfinite(v.number))
            fail("not a JSON value");
        v.type = JsonValue::Type::number;
        at_ = end;
        return v;
    }
    // Escapes are kept simple: \uXXXX below 0x80 as the byte, others as '?'; zlb's files
    // escape only control characters.
    std::string string() {
        ++at_;
        std::string out;
        while (true) {
            if (at_ >= s_.size()) fail("a string does not end");
            const char c = s_[at_++];
            if (c == '"') return out;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (at_ >= s_.size()) fail("a string does not end");
            const char e = s_[at_++];
            switch (e) {
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'u': {
                if (at_ + 4 > s_.size()) fail("a \\u escape is cut short");
                const std::string hex(s_.substr(at_, 4));
                char* stop = nullptr;
                const long code = std::strtol(hex.c_str(), &stop, 16);
                if (stop != hex.c_str() + 4) fail("a bad \\u escape");
                out += code < 0x80 ? char(code) : '?';
                at_ += 4;
                break;
            }
            default: out += e;
            }
        }
    }

    std::string_view s_;
    std::size_t at_ = 0;
};

} // namespace

std::optional<double> JsonValue::number_at(std::string_view path) const {
    const JsonValue* v = this;
    while (!path.empty()) {
        const auto dot = path.find('.');
        const std::string_view key = path.substr(0, dot);
        if (v->type != Type::object) return std::nullopt;
        const auto it = v->object.find(key);
        if (it == v->object.end()) return std::nullopt;
        v = &it->second;
        path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    }
    if (v->type != Type::number) return std::nullopt;
    return v->number;
}

JsonValue json_parse(std::string_view text) { return Parser(text).document(); }

JsonValue json_read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::string text;
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        text.append(buf, std::size_t(in.gcount()));
        if (text.size() > kMaxJsonBytes)
            throw std::runtime_error(path + ": larger than " + std::to_string(kMaxJsonBytes) + " bytes");
    }
    try {
        return json_parse(text);
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
}

} // namespace zlb::report
