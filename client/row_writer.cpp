#include "client/row_writer.hpp"

#include "core/log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace zlb::client {

RowWriter::~RowWriter() {
    flush();
    if (owned_ && fd_ >= 0) ::close(fd_);
}

void RowWriter::open(const std::string& path) {
    path_ = path;
    if (path == "-") {
        fd_ = STDOUT_FILENO;
        owned_ = false;
        return;
    }
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd_ < 0) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
    owned_ = true;
    buffer_.reserve(kBufferBytes);
}

void RowWriter::row(std::string_view text) {
    if (fd_ < 0) return;
    if (buffer_.size() + text.size() > kBufferBytes) flush();
    buffer_.append(text);
}

void RowWriter::flush() {
    if (fd_ < 0 || buffer_.empty()) return;
    std::size_t at = 0;
    while (!failed_ && at < buffer_.size()) {
        ssize_t n = ::write(fd_, buffer_.data() + at, buffer_.size() - at);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            LOG_ERROR("cannot write %s: %s; later rows are dropped",
                      path_ == "-" ? "stdout" : path_.c_str(), std::strerror(errno));
            failed_ = true;
            break;
        }
        at += static_cast<std::size_t>(n);
    }
    buffer_.clear();
}

void RowWriter::flush_if_due(Clock::time_point now) {
    if (buffer_.empty() || now - last_flush_ < std::chrono::milliseconds(20)) return;
    last_flush_ = now;
    flush();
}

} // namespace zlb::client
