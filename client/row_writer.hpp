#pragma once
// A file of rows (--results CSV, --output JSON lines) that is never cut inside a row:
// rows are gathered in a buffer and written whole with write(2), so whatever ends the
// process (a second Ctrl-C, SIGKILL) leaves only complete rows behind. The buffer is
// written when it fills, at most every 20 ms from the poll loop (flush_if_due), and at
// the end; "-" is stdout.
#include "core/clock.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace zlb::client {

class RowWriter {
public:
    RowWriter() = default;
    RowWriter(const RowWriter&) = delete;
    RowWriter& operator=(const RowWriter&) = delete;
    ~RowWriter();

    // Creates (truncates) path, or takes stdout for "-". Throws std::runtime_error.
    void open(const std::string& path);
    bool is_open() const { return fd_ >= 0; }
    bool is_stdout() const { return fd_ >= 0 && !owned_; }
    // Appends one whole row, its '\n' included.
    void row(std::string_view text);
    // Writes every buffered row.
    void flush();
    // Writes the buffered rows when the last write was at least 20 ms before now.
    void flush_if_due(Clock::time_point now);

private:
    static constexpr std::size_t kBufferBytes = 64 * 1024;
    int fd_ = -1;
    bool owned_ = false;
    bool failed_ = false; // a write failed: reported once, later rows dropped
    std::string path_;
    std::string buffer_;
    Clock::time_point last_flush_{};
};

} // namespace zlb::client
