#pragma once
// The metric families of one process, as Prometheus reads them: each sample names a cell
// (cells.hpp) the engine records into. Families and their label sets are fixed when the
// catalog is filled at startup, so every label set is bounded and nothing is looked up
// per request; at scrape time (on the exposer's thread) Collect() reads every cell once.
// Families whose label sets change while running (the broker's workers) are added by a
// hook that builds them under its own lock.
#include "metrics/cells.hpp"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace zlb::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Catalog final : public prometheus::Collectable {
public:
    // Family names must follow Prometheus naming (base units, _total on counters); the
    // same name twice is a programming error (promtool would reject the output).
    Catalog& counter(std::string name, std::string help);
    Catalog& gauge(std::string name, std::string help);
    Catalog& histogram(std::string name, std::string help); // duration in seconds
    // A sample of the family declared last. The cell must outlive the catalog's exposer.
    Catalog& sample(const Count& cell, Labels labels = {});
    Catalog& sample(const Level& cell, Labels labels = {});
    Catalog& sample(const DurationHistogram& cell, Labels labels = {});
    // Families made at scrape time, appended after the fixed ones.
    void hook_add(std::function<void(std::vector<prometheus::MetricFamily>&)> hook);

    std::vector<prometheus::MetricFamily> Collect() const override;

private:
    struct Sample {
        Labels labels;
        const Count* count = nullptr;
        const Level* level = nullptr;
        const DurationHistogram* histogram = nullptr;
    };
    struct Family {
        prometheus::MetricFamily head; // name, help, type; no samples
        std::vector<Sample> samples;
    };
    Catalog& family_add(std::string name, std::string help, prometheus::MetricType type);

    std::deque<Family> families_;
    std::vector<std::function<void(std::vector<prometheus::MetricFamily>&)>> hooks_;
};

// One sample with these labels (for hooks building families themselves).
prometheus::ClientMetric metric_make(const Labels& labels);

} // namespace zlb::metrics
