#pragma once
// Tunable constants of the web server, each with the reason for its value.
// Internal to src/web.

#include <chrono>
#include <cstddef>

namespace tandem::web::tuning {

// Largest request header block. Browsers send 1-2 KiB; Beast's default.
inline constexpr std::size_t kMaxRequestHeader = 8 * 1024;

// Largest request body: the server takes GETs only, so a body is never needed
// beyond what a misbehaving client might attach.
inline constexpr std::size_t kMaxRequestBody = 16 * 1024;

// Bytes queued on one WebSocket beyond which the peer is considered stuck and
// the connection dropped, rather than letting memory grow without bound.
inline constexpr std::size_t kMaxQueuedBytes = 4 * 1024 * 1024;

// How long a closing WebSocket may take to finish the closing handshake (or
// to flush its queue) before its TCP connection is dropped.
inline constexpr std::chrono::seconds kCloseTimeout{5};

// Bounds of the period of the one timer that checks every connection's
// deadlines: a quarter of the shortest timeout, so deadlines overrun by at
// most 25%, but no more often than every 5 ms and at least once a second.
inline constexpr std::chrono::milliseconds kMinSweepPeriod{5};
inline constexpr std::chrono::milliseconds kMaxSweepPeriod{1000};

// listen() backlog: a network outage ends with every browser reconnecting.
inline constexpr int kListenBacklog = 1024;

// Pause before accepting again after the process ran out of descriptors.
inline constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

}  // namespace tandem::web::tuning
