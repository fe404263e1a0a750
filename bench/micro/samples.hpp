#pragma once
// Representative messages for the parser micro-benchmarks.

#include <string>

namespace tandem::bench {

// Authenticated REGISTER as sent by the sipp register scenario: 11 headers.
inline std::string registerWithAuth() {
  return "REGISTER sip:bench.example.com SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 10.0.0.7:5061;branch=z9hG4bK-4242-17-2\r\n"
         "Max-Forwards: 70\r\n"
         "From: <sip:user0042@bench.example.com>;tag=4242SIPpTag0017\r\n"
         "To: <sip:user0042@bench.example.com>\r\n"
         "Call-ID: 17-4242@10.0.0.7\r\n"
         "CSeq: 2 REGISTER\r\n"
         "Contact: <sip:user0042@10.0.0.7:5061>\r\n"
         "Expires: 3600\r\n"
         "Authorization: Digest username=\"user0042\",realm=\"bench.example.com\","
         "uri=\"sip:bench.example.com\",nonce=\"6c1f9a0e2b7d4c33a8e5f0b1d2c3e4f5\","
         "response=\"0f9e8d7c6b5a49382716a5b4c3d2e1f0\",algorithm=MD5\r\n"
         "User-Agent: sipp-bench\r\n"
         "Content-Length: 0\r\n"
         "\r\n";
}

// INVITE with 15 headers and an SDP body.
inline std::string inviteWithSdp() {
  std::string sdp =
      "v=0\r\n"
      "o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
      "s=-\r\n"
      "c=IN IP4 192.0.2.10\r\n"
      "t=0 0\r\n"
      "m=audio 49170 RTP/AVP 0 8 101\r\n"
      "a=rtpmap:0 PCMU/8000\r\n"
      "a=rtpmap:8 PCMA/8000\r\n"
      "a=rtpmap:101 telephone-event/8000\r\n"
      "a=sendrecv\r\n";
  return "INVITE sip:bob@biloxi.example.com;transport=udp SIP/2.0\r\n"
         "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n"
         "Max-Forwards: 70\r\n"
         "Route: <sip:proxy.atlanta.example.com;lr>\r\n"
         "From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
         "To: \"Bob\" <sip:bob@biloxi.example.com>\r\n"
         "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
         "CSeq: 314159 INVITE\r\n"
         "Contact: <sip:alice@pc33.atlanta.example.com;transport=udp>\r\n"
         "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, REFER, NOTIFY\r\n"
         "Supported: replaces, timer, 100rel\r\n"
         "Session-Expires: 1800;refresher=uac\r\n"
         "Min-SE: 90\r\n"
         "User-Agent: Tandem-Bench/1.0\r\n"
         "Content-Type: application/sdp\r\n"
         "Content-Length: " +
         std::to_string(sdp.size()) + "\r\n\r\n" + sdp;
}

// 200 OK to an INVITE through two proxies: two Via, Record-Route.
inline std::string okResponse() {
  return "SIP/2.0 200 OK\r\n"
         "Via: SIP/2.0/UDP proxy2.biloxi.example.com:5060;branch=z9hG4bK721e418c4.1;"
         "received=192.0.2.222\r\n"
         "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;"
         "received=192.0.2.101;rport=5060\r\n"
         "Record-Route: <sip:proxy2.biloxi.example.com;lr>, <sip:proxy1.atlanta.example.com;lr>\r\n"
         "From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
         "To: \"Bob\" <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
         "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
         "CSeq: 314159 INVITE\r\n"
         "Contact: <sip:bob@192.0.2.4>\r\n"
         "Content-Length: 0\r\n"
         "\r\n";
}

}  // namespace tandem::bench
