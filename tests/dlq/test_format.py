import orjson

from eventyard.core.deadletter import Reason
from eventyard.dlq.format import hexdump, one_line, payload_text, show_lines, tail_line, view_detail, view_summary


def test_a_tail_line_has_position_time_reason_type_source_key_and_a_short_error(dead_letter):
    view = dead_letter(Reason.HANDLER_ERROR, order_id="o-9", partition=1, offset=4,
                       message="ValueError('x')\n" + "y" * 200)
    line = tail_line(view)
    assert line.split()[:6] == ["1:4", "2026-03-01T12:00:00Z", "handler_error", "OrderPlaced", "orders[2]@17", "o-9"]
    assert "\n" not in line and line.endswith("…")
    assert len(line.split("o-9", 1)[1].strip()) == 80


def test_one_line_flattens_whitespace_and_keeps_short_text():
    assert one_line("a\n  b\tc") == "a b c"
    assert one_line("x" * 10, width=5) == "xxxx…"


def test_payloads_render_as_pretty_json_else_text_else_hex():
    assert payload_text(b'{"a":[1]}') == ("json", '{\n  "a": [\n    1\n  ]\n}')
    assert payload_text(b"not json") == ("text", "not json")
    assert payload_text(b"\x80\x00ok") == ("hex", "00000000  " + "80 00 6f 6b".ljust(47) + "  |..ok|")
    assert payload_text(None) == ("empty", "")


def test_hexdump_has_sixteen_bytes_a_row_with_offsets():
    rows = hexdump(bytes(range(20))).splitlines()
    assert [r[:8] for r in rows] == ["00000000", "00000010"]
    assert rows[1].startswith("00000010  10 11 12 13")


def test_show_lists_every_header_and_the_original_payload(dead_letter):
    view = dead_letter(Reason.HANDLER_ERROR, headers=(("trace", b"t-1"), ("raw", b"\xff")))
    lines = show_lines(view, "order_saga.dlq")
    assert lines[0] == "order_saga.dlq 0:0"
    assert any(line.split() == ["trace", "t-1"] for line in lines)
    assert any(line.split() == ["raw", "0xff"] for line in lines)  # not UTF-8: hex
    assert sum(line.strip().startswith("eventyard.") for line in lines) == 11
    payload_at = next(i for i, line in enumerate(lines) if line.startswith("payload (json"))
    assert orjson.loads("\n".join(lines[payload_at + 1:]))["aggregate_id"] == "o-1"


def test_json_output_nests_a_json_payload_and_hexes_a_binary_one(dead_letter):
    detail = view_detail(dead_letter())
    assert detail["payload"]["encoding"] == "json" and detail["payload"]["value"]["type"] == "OrderPlaced"
    binary = view_detail(dead_letter(Reason.INVALID_JSON, value=b"\x80\x81"))
    assert binary["payload"] == {"encoding": "hex", "bytes": 2, "value": "8081"}
    assert {"name": "eventyard.error.reason", "value": "invalid_json"} in binary["headers"]
    assert view_summary(dead_letter(key=b"\xfe"))["key"] == "0xfe"
    orjson.dumps(detail)  # serialisable as is
