"""What schemathesis cannot read from the document, for .ci/schemathesis.sh.

One rule of a request body is beyond JSON Schema: a discount code's
`endsAt` must come after its `startsAt` (one field compared with another;
the document says so in words). Without this filter the generator sends
windows that end when or before they start, shopd refuses them with 422 as
it should, and a phase whose other cases all hit an existing code (409)
reads as "the schema is looser than the validation". Every other rule of
every body is in the document: src/api/fuzz_contract.rs checks that, with
this rule among the few it lists as not expressible (`cannot_state`).
"""

from datetime import datetime

import schemathesis

WINDOWED = "/api/v1/admin/discount-codes"


def _instant(text):
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


@schemathesis.hook
def filter_body(context, body):
    operation = context.operation
    if operation is None or not operation.path.startswith(WINDOWED):
        return True
    if not isinstance(body, dict):
        return True
    starts, ends = body.get("startsAt"), body.get("endsAt")
    if not (isinstance(starts, str) and isinstance(ends, str)):
        return True
    a, b = _instant(starts), _instant(ends)
    if a is None or b is None:
        return True
    try:
        return b > a
    except TypeError:  # one with an offset, one without: let shopd judge
        return True


# An image upload's body is bytes that JSON Schema can only call "binary":
# random bytes are no image, and shopd answers them 415 as it should, so a
# phase of them would read as "the schema is looser than the validation".
# Each generated upload gets a small real PNG instead, a different one each
# time (identical bytes are one image: a repeat answers 200, also
# documented). The refusals of non-images are tested in tests/api/media.rs.
UPLOAD = "/api/v1/media"
_uploads = [0]


def _png():
    import struct
    import zlib

    _uploads[0] += 1
    n = _uploads[0]
    width, height = 4, 3
    rows = b"".join(
        b"\x00" + bytes((n * 7 + x * 40 + y) % 256 for x in range(width) for _ in range(3))
        for y in range(height)
    )

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@schemathesis.hook
def map_body(context, body):
    operation = context.operation
    if operation is None or operation.path != UPLOAD or operation.method.upper() != "POST":
        return body
    if isinstance(body, dict):
        body = dict(body)
        body["file"] = _png()
        return body
    return _png()
