#include "nf/train/preemption.h"

#include <atomic>
#include <csignal>

#include "nf/core/error.h"

namespace nf::train {
namespace {

constexpr int kSignals[] = {SIGTERM, SIGUSR1, SIGINT};

// The one process-wide state here: async-signal-safe code can only store to a lock-free atomic.
std::atomic<int> received{0};
std::atomic<bool> installed{false};
struct sigaction previous[sizeof(kSignals) / sizeof(kSignals[0])];

extern "C" void on_signal(int number) { received.store(number); }

}  // namespace

PreemptionGuard::PreemptionGuard() {
  NF_CHECK(!installed.exchange(true), Error, "a PreemptionGuard is already installed in this process");
  received.store(0);
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (size_t i = 0; i < sizeof(kSignals) / sizeof(kSignals[0]); ++i) sigaction(kSignals[i], &action, &previous[i]);
}

PreemptionGuard::~PreemptionGuard() {
  for (size_t i = 0; i < sizeof(kSignals) / sizeof(kSignals[0]); ++i) sigaction(kSignals[i], &previous[i], nullptr);
  installed.store(false);
}

int PreemptionGuard::signal_received() const { return received.load(); }

}  // namespace nf::train
