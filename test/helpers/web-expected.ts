// What our WebSocket logs in each WHATWG scenario (test/helpers/web-scenarios.mjs),
// against either server. Chromium logs the same (test-peers/web.test.ts).

export const EXPECTED_LOGS: Record<string, string[]> = {
  "echo of text, bytes, ArrayBuffer and Blob, then close(1000) [arraybuffer]": [
    'open readyState=1 protocol=""',
    "bufferedAmount after sends=15",
    'message text "héllo"',
    "message arraybuffer [1,2,3]",
    "message arraybuffer [1,2]",
    "message arraybuffer [9,8]",
    "message arraybuffer [6,5]",
    'close code=1000 reason="done" wasClean=true readyState=3',
  ],
  "echo of text, bytes, ArrayBuffer and Blob, then close(1000) [blob]": [
    'open readyState=1 protocol=""',
    "bufferedAmount after sends=15",
    'message text "héllo"',
    "message blob 3",
    "message blob 2",
    "message blob 2",
    "message blob 2",
    'close code=1000 reason="done" wasClean=true readyState=3',
  ],
  "client close with a code and a reason": [
    'open readyState=1 protocol=""',
    "after close readyState=2",
    'close code=4000 reason="bye ✓" wasClean=true readyState=3',
  ],
  "client close without a code": [
    'open readyState=1 protocol=""',
    'close code=1005 reason="" wasClean=true readyState=3',
  ],
  "server closes with 4001 and a reason after a message [arraybuffer]": [
    'open readyState=1 protocol=""',
    'message text "hello"',
    'close code=4001 reason="bye ✓" wasClean=true readyState=3',
  ],
  "server closes with 4001 and a reason after a message [blob]": [
    'open readyState=1 protocol=""',
    'message text "hello"',
    'close code=4001 reason="bye ✓" wasClean=true readyState=3',
  ],
  "messages received after close() are dropped": [
    'open readyState=1 protocol=""',
    'close code=1005 reason="" wasClean=true readyState=3',
  ],
  "send while CLOSING grows bufferedAmount and sends nothing": [
    'open readyState=1 protocol=""',
    "bufferedAmount=8",
    'close code=1005 reason="" wasClean=true readyState=3',
    "after close bufferedAmount=9",
  ],
  "send while CONNECTING throws InvalidStateError": [
    "send throws InvalidStateError",
    'open readyState=1 protocol=""',
    'close code=1005 reason="" wasClean=true readyState=3',
  ],
  "close() while CONNECTING fails the connection": [
    "after close readyState=2",
    "error Event readyState=3",
    'close code=1006 reason="" wasClean=false readyState=3',
  ],
  "close() argument checks": [
    'open readyState=1 protocol=""',
    "close(999) throws InvalidAccessError",
    "close(1001) throws InvalidAccessError",
    "close(2999) throws InvalidAccessError",
    "close(5000) throws InvalidAccessError",
    "close(0) throws InvalidAccessError",
    "close(reason only) throws InvalidAccessError",
    "close(1000, 124 chars) throws SyntaxError",
    "close(3000, 62 chars) throws SyntaxError",
    'close code=3000 reason="ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé" wasClean=true readyState=3',
  ],
  "16 sends of 1 MiB: bufferedAmount grows at once and drains to 0": [
    'open readyState=1 protocol=""',
    "bufferedAmount=16777216",
    "drained=true",
    'message text "received 16 16777216"',
    'close code=1000 reason="" wasClean=true readyState=3',
  ],
  "subprotocol negotiated": [
    'open readyState=1 protocol="chat"',
    'close code=1005 reason="" wasClean=true readyState=3',
  ],
  "constructor: unparsable URL": ["constructor throws SyntaxError"],
  "constructor: ftp scheme": ["constructor throws SyntaxError"],
  "constructor: fragment": ["constructor throws SyntaxError"],
  "constructor: empty fragment": ["constructor throws SyntaxError"],
  "constructor: http URL becomes ws": [
    "url scheme ws",
    'open readyState=1 protocol=""',
    'close code=1005 reason="" wasClean=true readyState=3',
  ],
  "constructor: repeated protocol": ["constructor throws SyntaxError"],
  "constructor: protocol with a space": ["constructor throws SyntaxError"],
  "constructor: empty protocol": ["constructor throws SyntaxError"],
  "subprotocols requested, none selected": [
    "error Event readyState=3",
    'close code=1006 reason="" wasClean=false readyState=3',
  ],
  "abrupt TCP close after a message": [
    'open readyState=1 protocol=""',
    'message text "x"',
    'close code=1006 reason="" wasClean=false readyState=3',
  ],
  "handshake with a wrong accept key": [
    "error Event readyState=3",
    'close code=1006 reason="" wasClean=false readyState=3',
  ],
  "handshake selecting an unrequested subprotocol": [
    "error Event readyState=3",
    'close code=1006 reason="" wasClean=false readyState=3',
  ],
  "handshake selecting an unrequested extension": [
    "error Event readyState=3",
    'close code=1006 reason="" wasClean=false readyState=3',
  ],
  "handshake answered with 403": [
    "error Event readyState=3",
    'close code=1006 reason="" wasClean=false readyState=3',
  ],
  "handshake taking 2 s": [
    'open readyState=1 protocol=""',
    'message text "slow"',
    'close code=1000 reason="" wasClean=true readyState=3',
  ],
  "invalid UTF-8 in a text message fails the connection": [
    'open readyState=1 protocol=""',
    "error Event readyState=3",
    'close code=1006 reason="" wasClean=false readyState=3',
  ],
};
