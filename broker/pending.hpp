#pragma once
// Requests the broker holds, queued or at a worker, in a slab of reusable slots: a
// token names a slot and its generation, so a stale token (a late reply after a
// re-dispatch) never matches a newer request in the same slot.
#include "core/clock.hpp"
#include "proto/codec.hpp"

#include <zmq.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace zlb::broker {

struct Pending {
    std::uint32_t generation = 0;
    bool used = false;
    bool queued = false;
    std::string worker;                 // routing id of the worker holding it
    std::vector<zmq::message_t> client; // the client's routing frames
    zmq::message_t body;                // kept for a re-dispatch
    proto::Op op = proto::Op::echo;
    std::optional<std::uint64_t> id;
    Clock::time_point received;
    Clock::time_point deadline; // the latest it may be answered: deadline_ms or --queue-timeout-ms
    bool client_deadline = false; // deadline came from deadline_ms: workers get what is left
    std::uint32_t dispatches = 0; // sends to workers so far; names the current one
    bool sent = false; // to a worker at least once: its queue wait is recorded
    std::vector<std::string> failed; // workers that failed it: never sent there again
    std::size_t bytes = 0;           // body and routing frames held, for the byte bound
};

class PendingSlab {
public:
    std::uint64_t acquire() {
        if (free_.empty()) {
            free_.push_back(static_cast<std::uint32_t>(slots_.size()));
            slots_.emplace_back();
        }
        std::uint32_t index = free_.back();
        free_.pop_back();
        Pending& p = slots_[index];
        p.used = true;
        ++p.generation;
        ++used_;
        return (std::uint64_t(p.generation) << 32) | index;
    }
    // The live request a token names, or nullptr when it is stale.
    Pending* find(std::uint64_t token) {
        std::uint32_t index = static_cast<std::uint32_t>(token);
        if (index >= slots_.size()) return nullptr;
        Pending& p = slots_[index];
        return p.used && p.generation == (token >> 32) ? &p : nullptr;
    }
    // Counts a request's bytes against bytes(); release gives them back.
    void hold(Pending& p, std::size_t bytes) {
        p.bytes = bytes;
        bytes_ += bytes;
    }
    std::size_t bytes() const { return bytes_; }
    void release(std::uint64_t token) {
        Pending& p = slots_[static_cast<std::uint32_t>(token)];
        bytes_ -= p.bytes;
        p.bytes = 0;
        p.used = p.queued = p.sent = false;
        p.worker.clear();
        p.client.clear();
        p.failed.clear();
        p.body = zmq::message_t();
        free_.push_back(static_cast<std::uint32_t>(token));
        --used_;
    }
    std::size_t used() const { return used_; }
    template <class F> void for_each(F&& f) {
        for (std::uint32_t i = 0; i < slots_.size(); ++i)
            if (slots_[i].used) f((std::uint64_t(slots_[i].generation) << 32) | i, slots_[i]);
    }

private:
    std::vector<Pending> slots_;
    std::vector<std::uint32_t> free_;
    std::size_t used_ = 0;
    std::size_t bytes_ = 0;
};

} // namespace zlb::broker
