// The Asio vocabulary baton uses: namespace alias, awaitable, error codes as tuples (no exceptions).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace baton::proxy {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
template <typename T = void>
using awaitable = asio::awaitable<T>;

// Completion token: results (error_code first) as a tuple, so expected failures are values.
inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

}  // namespace baton::proxy
