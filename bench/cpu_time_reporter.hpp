#pragma once
// Google Benchmark's console output, plus each benchmark's CPU time per iteration kept in run
// order, for the summary a bench program prints after it (its ratios against the baseline).
#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <vector>

namespace grant::bench {

class CpuTimeReporter : public benchmark::ConsoleReporter {
public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      if (run.run_type == Run::RT_Iteration && !run.error_occurred) {
        if (m_ns.count(run.benchmark_name()) == 0) {
          m_order.push_back(run.benchmark_name());
        }
        m_ns[run.benchmark_name()] = run.GetAdjustedCPUTime();
      }
    }
  }

protected:
  std::map<std::string, double> m_ns; ///< benchmark name -> CPU ns per iteration
  std::vector<std::string> m_order;   ///< names in the order they ran
};

} // namespace grant::bench
