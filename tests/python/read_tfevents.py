"""An independent reader of TensorBoard event files, for tests: checks every record's framing and
masked CRC-32C (with the crc32c package, not our code) and decodes the protobuf fields by
hand from TensorFlow's field numbers. Prints one line per scalar: `step tag value`, and the
file_version record as `version <text>`."""
import struct
import sys

import crc32c


def masked(data):
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(buf, pos):
    result, shift = 0, 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def fields(buf):
    """Yields (field number, wire type, value) of one protobuf message."""
    pos = 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unexpected wire type {wire}")
        yield number, wire, value


def main(path):
    data = open(path, "rb").read()
    pos = 0
    while pos < len(data):
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        assert length_crc == masked(header), f"bad length crc at offset {pos}"
        payload = data[pos + 12:pos + 12 + length]
        (payload_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
        assert payload_crc == masked(payload), f"bad payload crc at offset {pos}"
        pos += 16 + length
        step = 0
        for number, _, value in fields(payload):
            if number == 2:
                step = value
            elif number == 3:
                print("version", value.decode())
            elif number == 5:
                for summary_number, _, summary_value in fields(value):
                    assert summary_number == 1
                    tag, scalar = None, None
                    for value_number, _, item in fields(summary_value):
                        if value_number == 1:
                            tag = item.decode()
                        elif value_number == 2:
                            (scalar,) = struct.unpack("<f", item)
                    print(step, tag, repr(scalar))


if __name__ == "__main__":
    main(sys.argv[1])
