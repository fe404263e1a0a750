#pragma once
// Tunable constants of the SIP transports, each with the reason for its value.
// Internal to src/sip/transport.

#include <chrono>
#include <cstddef>

namespace tandem::sip::tuning {

// The largest UDP payload (IPv4 total length is 16 bits); one receive buffer of
// this size per UDP socket is reused for every datagram.
inline constexpr std::size_t kMaxDatagram = 65535;

// Datagrams read per readiness event before the loop yields to other handlers,
// so that a flood on one socket cannot starve timers and streams.
inline constexpr int kUdpReadBatch = 64;

// Datagrams read with one recvmmsg() call. Each slot has a kMaxDatagram buffer
// (virtual memory; pages are touched only by datagrams that large).
inline constexpr std::size_t kUdpSlots = 16;

// Datagrams a read pause must be expected to gather before a UDP socket is
// read in pauses (UdpListener::scheduleRead): a pause costs a timer wake-up
// and two epoll_ctl() calls. Measured with 2 ms pauses, CPU per REGISTER
// against 300 us pauses taken whenever the socket woke more often: 4 lost
// 16-20 % at 1,000 REGISTERs/s (pauses of about four) and gained 16 % at
// 2,000/s; 8 was even at 500 and 1,000/s and gained 12 % at 2,000/s, 17 %
// at 8,000/s.
inline constexpr int kUdpPauseGather = 8;

// Datagrams sent with one sendmmsg() call: the answers to one received batch
// (kUdpSlots) and then some, for requests forked to several contacts.
inline constexpr std::size_t kUdpSendBatch = 32;

// First size of a stream connection's read buffer: a typical SIP message with
// SDP is 1-4 KiB, so most connections never grow it.
inline constexpr std::size_t kStreamInitialBuffer = 8 * 1024;

// Free space below which the read buffer is compacted or grown before the next
// read; smaller reads would cost one system call per few hundred bytes.
inline constexpr std::size_t kStreamMinReadSpace = 2 * 1024;

// Queued messages written with one gathered async_write (one system call).
inline constexpr std::size_t kMaxWriteGather = 16;

// Bytes queued on one connection beyond which the peer is considered stuck and
// the connection closed, rather than letting memory grow without bound.
inline constexpr std::size_t kMaxQueuedBytes = 4 * 1024 * 1024;

// Upper bound for TCP connect plus TLS handshake. Kernel SYN retries last over
// two minutes, far beyond SIP Timer B/F (64*T1 = 32 s); a dead next hop should
// fail fast enough for the transaction to try the next one.
inline constexpr std::chrono::seconds kConnectTimeout{10};

// How long shutdown() lets a connection flush its queued writes.
inline constexpr std::chrono::seconds kDrainTimeout{2};

// listen() backlog: bursts of registrations after a network outage open many
// connections at once.
inline constexpr int kListenBacklog = 1024;

// Pause before accepting again after the process ran out of descriptors
// (EMFILE/ENFILE), instead of spinning on a failing accept.
inline constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

// Per-destination notes (why the last connection failed, for the final
// response that reports it; the SIP domain a TLS destination was reached
// for) are kept for this many destinations; beyond that the oldest go. A few
// per peer domain; the bound only stops a stream of unreachable contacts
// from growing memory.
inline constexpr std::size_t kMaxRemoteNotes = 256;

}  // namespace tandem::sip::tuning
