// drained_and_quiet(): the reactor's own record of whether a socket may hold unread bytes.
#include "proxy/net/drained_read.hpp"

#include <sys/epoll.h>

#include <boost/asio/detail/op_queue.hpp>
#include <boost/asio/detail/scheduler_operation.hpp>

namespace baton::proxy {

namespace {

namespace ad = drained_read_detail::ad;

using DescriptorState = ad::epoll_reactor::descriptor_state;
using SpeculativeFlags = bool (DescriptorState::*)[ad::epoll_reactor::max_ops];

// The descriptor's per-direction "try the operation at once" flags are private to the reactor. An
// explicit instantiation may name a private member ([temp.spec.general]: access is not checked on
// its template arguments), and the friend it defines hands the member pointer out. Boost is pinned
// by drained_read.hpp's static_assert.
SpeculativeFlags speculative_flags();

template <SpeculativeFlags Flags>
struct ExposeSpeculativeFlags {
  friend SpeculativeFlags speculative_flags() { return Flags; }
};
template struct ExposeSpeculativeFlags<&DescriptorState::try_speculative_>;

// The same for the descriptor's registered events and the reactor's epoll descriptor.
using RegisteredEvents = std::uint32_t DescriptorState::*;
RegisteredEvents registered_events();
template <RegisteredEvents Events>
struct ExposeRegisteredEvents {
  friend RegisteredEvents registered_events() { return Events; }
};
template struct ExposeRegisteredEvents<&DescriptorState::registered_events_>;

using EpollFd = int ad::epoll_reactor::*;
EpollFd epoll_fd();
template <EpollFd Fd>
struct ExposeEpollFd {
  friend EpollFd epoll_fd() { return Fd; }
};
template struct ExposeEpollFd<&ad::epoll_reactor::epoll_fd_>;

// Whether the descriptor waits in the scheduler's queue with events of the last epoll_wait not yet
// looked at. The reactor queues every descriptor of an epoll batch before any handler runs, and the
// scheduler puts its own task marker after them: a queued descriptor is never the queue's last
// operation, so its link to the next is set exactly while it is queued (popping clears it).
// (A C-style cast reaches the reactor's private base class, as [expr.cast] allows.)
bool events_pending(DescriptorState* state) {
  auto* op = (ad::scheduler_operation*)state;  // (the C-style cast: see above)
  return ad::op_queue_access::next(op) != nullptr;
}

}  // namespace

int epoll_descriptor(DrainedReactor& reactor) { return reactor.*epoll_fd(); }

void leave_reactor(tcp::socket& socket) {
  DescriptorState* state = drained_read_detail::SocketAccess::implementation(socket).reactor_data_;
  if (state == nullptr || !socket.is_open()) return;
  epoll_event ev{};
  ::epoll_ctl(epoll_descriptor(drained_reactor(socket)), EPOLL_CTL_DEL, socket.native_handle(), &ev);
}

void rejoin_reactor(tcp::socket& socket) {
  DescriptorState* state = drained_read_detail::SocketAccess::implementation(socket).reactor_data_;
  if (state == nullptr || !socket.is_open()) return;
  epoll_event ev{};
  ev.events = state->*registered_events();
  ev.data.ptr = state;
  ::epoll_ctl(epoll_descriptor(drained_reactor(socket)), EPOLL_CTL_ADD, socket.native_handle(), &ev);
}

bool drained_and_quiet(tcp::socket& socket) {
  if (!socket.is_open()) return false;
  DescriptorState* state = drained_read_detail::SocketAccess::implementation(socket).reactor_data_;
  if (state == nullptr) return false;
  return !(state->*speculative_flags())[ad::epoll_reactor::read_op] && !events_pending(state);
}

}  // namespace baton::proxy
