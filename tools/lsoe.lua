-- Wireshark/tshark dissector for Link State Over Ethernet (draft-ietf-lsvr-lsoe-01), as netkit
-- and the reference implementation lsoed put it on the wire (netkit's lib/packet/lsoe.ts).
--
-- Load it for one run:    tshark -X lua_script:tools/lsoe.lua -r capture.pcap
--                         wireshark -X lua_script:tools/lsoe.lua capture.pcap
-- or for good: copy it into the personal Lua plugins folder that `tshark -G folders` names.
--
-- It claims EtherTypes 0x88B5 (netkit's default) and 0x8885 (what lsoed sends); the preference
-- lsoe.extra_ethertypes adds others, e.g. `-o lsoe.extra_ethertypes:0x9000`. Display filters
-- start with `lsoe` (lsoe.pdu.type == 1, lsoe.checksum.status == 0, lsoe.encap.ipv4 ...).
--
-- The datagram header is checked as a netkit receiver checks it (version 0, length within the
-- payload, S-box checksum); the bytes after the datagram length are Ethernet padding. PDUs cut
-- into several datagrams are put back together per source MAC, in capture order, from datagrams
-- whose checksum is good. Malformed input becomes expert info, never a Lua error: every read is
-- bounds-checked first.

local lsoe = Proto("lsoe", "Link State Over Ethernet (LSoE-01)")

local ETHERTYPES = { 0x88b5, 0x8885 }
local HEADER_LEN = 8
local PDU_HEADER_LEN = 3
local MAX_PDU_LEN = 0xffff
local LAST_FLAG = 0x80

local PDU_NAMES = {
    [0] = "HELLO",
    [1] = "OPEN",
    [2] = "KEEPALIVE",
    [3] = "ACK",
    [4] = "IPv4 encapsulation",
    [5] = "IPv6 encapsulation",
    [6] = "MPLS-IPv4 encapsulation",
    [7] = "MPLS-IPv6 encapsulation",
    [255] = "VENDOR",
}
local ERROR_TYPES = { [0] = "No error", [1] = "Warning", [2] = "Restart", [3] = "Hopeless" }
local ERROR_CODES = {
    [0] = "None",
    [1] = "Link addressing conflict",
    [2] = "Authorization failure in OPEN",
    [3] = "Unknown PDU type",
}
-- Wireshark's own checksum status values (proto_checksum_enum_e).
local CHECKSUM_BAD, CHECKSUM_GOOD, CHECKSUM_UNVERIFIED = 0, 1, 2
local CHECKSUM_STATUS = { [0] = "Bad", [1] = "Good", [2] = "Unverified" }

local f = {
    version = ProtoField.uint8("lsoe.version", "Version", base.DEC),
    last = ProtoField.bool("lsoe.last", "Last datagram", 8, nil, LAST_FLAG),
    datagram = ProtoField.uint8("lsoe.datagram", "Datagram number", base.DEC, nil, 0x7f),
    length = ProtoField.uint16("lsoe.length", "Datagram length", base.DEC),
    checksum = ProtoField.uint32("lsoe.checksum", "Checksum", base.HEX),
    checksum_calculated = ProtoField.uint32("lsoe.checksum.calculated", "Calculated checksum", base.HEX),
    checksum_status = ProtoField.uint8("lsoe.checksum.status", "Checksum status", base.DEC, CHECKSUM_STATUS),
    payload = ProtoField.bytes("lsoe.payload", "Datagram payload"),
    padding = ProtoField.bytes("lsoe.padding", "Padding (after the datagram length)"),
    fragment = ProtoField.framenum("lsoe.fragment", "Datagram in frame"),
    reassembled_in = ProtoField.framenum("lsoe.reassembled_in", "PDU reassembled in frame"),
    reassembled_length = ProtoField.uint32("lsoe.reassembled.length", "Reassembled PDU length", base.DEC),

    pdu_type = ProtoField.uint8("lsoe.pdu.type", "PDU type", base.DEC, PDU_NAMES),
    pdu_length = ProtoField.uint16("lsoe.pdu.length", "PDU length", base.DEC),
    pdu_data = ProtoField.bytes("lsoe.pdu.data", "PDU body"),
    trailing = ProtoField.bytes("lsoe.pdu.trailing", "Bytes after the PDU's fields"),

    open_nonce = ProtoField.bytes("lsoe.open.nonce", "Nonce"),
    open_local_id = ProtoField.bytes("lsoe.open.local_id", "Local ID"),
    open_attr_length = ProtoField.uint8("lsoe.open.attributes_length", "Attributes length", base.DEC),
    open_attributes = ProtoField.bytes("lsoe.open.attributes", "Attributes"),
    open_auth_length = ProtoField.uint16("lsoe.open.auth_length", "Authentication length", base.DEC),

    ack_type = ProtoField.uint8("lsoe.ack.type", "Acknowledged PDU type", base.DEC, PDU_NAMES),
    ack_error_type = ProtoField.uint16("lsoe.ack.error_type", "Error type", base.DEC, ERROR_TYPES, 0xf000),
    ack_error_code = ProtoField.uint16("lsoe.ack.error_code", "Error code", base.DEC, ERROR_CODES, 0x0fff),
    ack_error_hint = ProtoField.uint16("lsoe.ack.error_hint", "Error hint", base.DEC),

    encap_count = ProtoField.uint16("lsoe.encap.count", "Count", base.DEC),
    encap_entry = ProtoField.bytes("lsoe.encap.entry", "Entry"),
    encap_flags = ProtoField.uint8("lsoe.encap.flags", "Flags", base.HEX),
    encap_primary = ProtoField.bool("lsoe.encap.primary", "Primary", 8, nil, 0x80),
    encap_loopback = ProtoField.bool("lsoe.encap.loopback", "Loopback", 8, nil, 0x40),
    encap_ipv4 = ProtoField.ipv4("lsoe.encap.ipv4", "IPv4 address"),
    encap_ipv6 = ProtoField.ipv6("lsoe.encap.ipv6", "IPv6 address"),
    encap_prefix_length = ProtoField.uint8("lsoe.encap.prefix_length", "Prefix length", base.DEC),
    mpls_label_count = ProtoField.uint8("lsoe.mpls.label_count", "Label count", base.DEC),
    -- A label is 3 bytes with the 20-bit label in the top bits, as in an RFC 3032 stack entry.
    mpls_label = ProtoField.uint24("lsoe.mpls.label", "Label", base.DEC, nil, 0xfffff0),
    mpls_label_low = ProtoField.uint24("lsoe.mpls.label_low_bits", "Low bits", base.HEX, nil, 0x00000f),

    vendor_enterprise = ProtoField.uint32("lsoe.vendor.enterprise", "Enterprise number", base.DEC),
    vendor_type = ProtoField.uint8("lsoe.vendor.type", "Enterprise type", base.DEC),
    vendor_data = ProtoField.bytes("lsoe.vendor.data", "Data"),
}
local field_list = {}
for _, field in pairs(f) do field_list[#field_list + 1] = field end
lsoe.fields = field_list

local e = {
    runt = ProtoExpert.new("lsoe.runt", "Payload shorter than the 8-byte datagram header",
        expert.group.MALFORMED, expert.severity.ERROR),
    bad_version = ProtoExpert.new("lsoe.version.bad", "Version is not 0",
        expert.group.MALFORMED, expert.severity.ERROR),
    bad_length = ProtoExpert.new("lsoe.length.bad", "Datagram length outside the payload",
        expert.group.MALFORMED, expert.severity.ERROR),
    bad_checksum = ProtoExpert.new("lsoe.checksum.bad", "Bad checksum",
        expert.group.CHECKSUM, expert.severity.ERROR),
    fragment = ProtoExpert.new("lsoe.fragment.info", "Datagram of a multi-datagram PDU",
        expert.group.REASSEMBLE, expert.severity.NOTE),
    fragment_dropped = ProtoExpert.new("lsoe.fragment.dropped", "Datagram not reassembled",
        expert.group.REASSEMBLE, expert.severity.WARN),
    pdu_length = ProtoExpert.new("lsoe.pdu.length.bad", "PDU length does not match its bytes",
        expert.group.MALFORMED, expert.severity.ERROR),
    truncated = ProtoExpert.new("lsoe.pdu.truncated", "PDU truncated",
        expert.group.MALFORMED, expert.severity.ERROR),
    trailing = ProtoExpert.new("lsoe.pdu.trailing_bytes", "Bytes after the PDU's fields",
        expert.group.MALFORMED, expert.severity.ERROR),
    unknown_type = ProtoExpert.new("lsoe.pdu.unknown_type", "Unknown PDU type",
        expert.group.UNDECODED, expert.severity.WARN),
    auth = ProtoExpert.new("lsoe.open.auth", "Authentication length is not 0 (not specified in LSoE-01)",
        expert.group.PROTOCOL, expert.severity.WARN),
    prefix = ProtoExpert.new("lsoe.encap.prefix_length.bad", "Prefix length longer than the address",
        expert.group.MALFORMED, expert.severity.ERROR),
    ack_error = ProtoExpert.new("lsoe.ack.error", "ACK carries an error",
        expert.group.RESPONSE_CODE, expert.severity.WARN),
}
local expert_list = {}
for _, expert_field in pairs(e) do expert_list[#expert_list + 1] = expert_field end
lsoe.experts = expert_list

lsoe.prefs.extra_ethertypes = Pref.string("Additional EtherTypes", "",
    "EtherTypes to decode as LSoE besides 0x88B5 and 0x8885, comma-separated (hex as 0x..., or decimal)")
lsoe.prefs.reassembly_timeout = Pref.uint("Reassembly timeout (ms)", 1000,
    "Datagrams of one PDU further apart than this are not put together (netkit's reassembly-timeout)")

-- The Skipjack F-table, the S-box of the LSoE checksum.
local SBOX = {
    0xa3, 0xd7, 0x09, 0x83, 0xf8, 0x48, 0xf6, 0xf4, 0xb3, 0x21, 0x15, 0x78, 0x99, 0xb1, 0xaf, 0xf9,
    0xe7, 0x2d, 0x4d, 0x8a, 0xce, 0x4c, 0xca, 0x2e, 0x52, 0x95, 0xd9, 0x1e, 0x4e, 0x38, 0x44, 0x28,
    0x0a, 0xdf, 0x02, 0xa0, 0x17, 0xf1, 0x60, 0x68, 0x12, 0xb7, 0x7a, 0xc3, 0xe9, 0xfa, 0x3d, 0x53,
    0x96, 0x84, 0x6b, 0xba, 0xf2, 0x63, 0x9a, 0x19, 0x7c, 0xae, 0xe5, 0xf5, 0xf7, 0x16, 0x6a, 0xa2,
    0x39, 0xb6, 0x7b, 0x0f, 0xc1, 0x93, 0x81, 0x1b, 0xee, 0xb4, 0x1a, 0xea, 0xd0, 0x91, 0x2f, 0xb8,
    0x55, 0xb9, 0xda, 0x85, 0x3f, 0x41, 0xbf, 0xe0, 0x5a, 0x58, 0x80, 0x5f, 0x66, 0x0b, 0xd8, 0x90,
    0x35, 0xd5, 0xc0, 0xa7, 0x33, 0x06, 0x65, 0x69, 0x45, 0x00, 0x94, 0x56, 0x6d, 0x98, 0x9b, 0x76,
    0x97, 0xfc, 0xb2, 0xc2, 0xb0, 0xfe, 0xdb, 0x20, 0xe1, 0xeb, 0xd6, 0xe4, 0xdd, 0x47, 0x4a, 0x1d,
    0x42, 0xed, 0x9e, 0x6e, 0x49, 0x3c, 0xcd, 0x43, 0x27, 0xd2, 0x07, 0xd4, 0xde, 0xc7, 0x67, 0x18,
    0x89, 0xcb, 0x30, 0x1f, 0x8d, 0xc6, 0x8f, 0xaa, 0xc8, 0x74, 0xdc, 0xc9, 0x5d, 0x5c, 0x31, 0xa4,
    0x70, 0x88, 0x61, 0x2c, 0x9f, 0x0d, 0x2b, 0x87, 0x50, 0x82, 0x54, 0x64, 0x26, 0x7d, 0x03, 0x40,
    0x34, 0x4b, 0x1c, 0x73, 0xd1, 0xc4, 0xfd, 0x3b, 0xcc, 0xfb, 0x7f, 0xab, 0xe6, 0x3e, 0x5b, 0xa5,
    0xad, 0x04, 0x23, 0x9c, 0x14, 0x51, 0x22, 0xf0, 0x29, 0x79, 0x71, 0x7e, 0xff, 0x8c, 0x0e, 0xe2,
    0x0c, 0xef, 0xbc, 0x72, 0x75, 0x6f, 0x37, 0xa1, 0xec, 0xd3, 0x8e, 0x62, 0x8b, 0x86, 0x10, 0xe8,
    0x08, 0x77, 0x11, 0xbe, 0x92, 0x4f, 0x24, 0xc5, 0x32, 0x36, 0x9d, 0xcf, 0xf3, 0xa6, 0xbb, 0xac,
    0x5e, 0x6c, 0xa9, 0x13, 0x57, 0x25, 0xb5, 0xe3, 0xbd, 0xa8, 0x3a, 0x01, 0x05, 0x59, 0x2a, 0x46,
}

-- The S-box checksum of a datagram (`raw`: its bytes, header included; the checksum field counts
-- as 0). Four sums, byte i into sum i mod 4, combined with overlapping 8-bit shifts and folded
-- twice into 32 bits. Numbers stay below 2^53, exact in Lua 5.2's doubles.
local function sbox_checksum(raw)
    local sums = { 0, 0, 0, 0 }
    for i = 1, #raw do
        local byte = (i >= 5 and i <= 8) and 0 or raw:byte(i)
        local k = (i - 1) % 4 + 1
        sums[k] = sums[k] + SBOX[byte + 1]
    end
    local x = ((sums[1] * 256 + sums[2]) * 256 + sums[3]) * 256 + sums[4]
    for _ = 1, 2 do
        x = math.floor(x / 4294967296) + x % 4294967296
    end
    return x
end

-- Whether the frame being dissected had a malformed PDU (the Info column says so).
local malformed_seen = false

-- Adds expert info `field` with `text` to `item` and marks the frame malformed.
local function malformed(item, field, text)
    malformed_seen = true
    item:add_proto_expert_info(field, text)
end

local function hex(raw)
    return (raw:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- Multi-datagram PDUs, rebuilt on the first pass over the capture and remembered per frame, so
-- later passes (the GUI re-dissects at random) show the same result.
local partials        -- source MAC → { chunks = {[n] = raw}, frames = {[n] = frame}, last, bytes, first_time }
local reassembled     -- frame number → { raw = PDU bytes, frames = {frame...} }
local fragment_notes  -- frame number → a note on what became of the datagram
local reassembled_in  -- frame number → the frame that completed its PDU

local function forget_all()
    partials, reassembled, fragment_notes, reassembled_in = {}, {}, {}, {}
end
forget_all()
-- A new capture file starts afresh.
lsoe.init = forget_all

-- Keeps datagram `number` of a multi-datagram PDU; returns a note and, when the PDU is complete,
-- its bytes and the frames that carried it. Mirrors lib/lsoe/reassembly.ts's drops.
local function reassemble(source, number, last, raw, frame, time)
    local partial = partials[source]
    if partial ~= nil and time - partial.first_time > lsoe.prefs.reassembly_timeout / 1000 then
        partials[source] = nil
        partial = nil
    end
    if partial == nil then
        partial = { chunks = {}, frames = {}, bytes = 0, first_time = time }
        partials[source] = partial
    end
    if partial.chunks[number] ~= nil then
        return "duplicate datagram " .. number .. " (dropped)"
    end
    if (partial.last ~= nil and number > partial.last) then
        return "datagram " .. number .. " after the last one, " .. partial.last .. " (dropped)"
    end
    if last then
        for n in pairs(partial.chunks) do
            if n > number then
                partials[source] = nil
                return "last datagram " .. number .. " before datagram " .. n .. " (PDU dropped)"
            end
        end
        partial.last = number
    end
    if partial.bytes + #raw > MAX_PDU_LEN then
        partials[source] = nil
        return "PDU longer than 65535 bytes (dropped)"
    end
    partial.chunks[number] = raw
    partial.frames[number] = frame
    partial.bytes = partial.bytes + #raw
    if partial.last == nil then
        return "datagram " .. number .. ", waiting for more"
    end
    local parts, frames = {}, {}
    for n = 0, partial.last do
        if partial.chunks[n] == nil then
            return "datagram " .. number .. ", waiting for datagram " .. n
        end
        parts[#parts + 1] = partial.chunks[n]
        frames[#frames + 1] = partial.frames[n]
    end
    partials[source] = nil
    return "datagram " .. number .. ", PDU complete", table.concat(parts), frames
end

-- Adds the entries of an encapsulation PDU (body `tvb` from `offset`, `count` entries); returns
-- the offset after the last entry it could read and the number of entries read.
local function dissect_entries(tvb, tree, offset, count, pdu_type)
    local mpls = pdu_type == 6 or pdu_type == 7
    local address_len = (pdu_type == 4 or pdu_type == 6) and 4 or 16
    local address_field = address_len == 4 and f.encap_ipv4 or f.encap_ipv6
    local len = tvb:len()
    for i = 1, count do
        local start = offset
        local fixed = 1 + (mpls and 1 or 0) + address_len + 1
        if len - offset < fixed then
            malformed(tree, e.truncated, string.format("Entry %d of %d truncated", i, count))
            return offset, i - 1
        end
        local labels = mpls and tvb:range(offset + 1, 1):uint() or 0
        local entry_len = fixed + 3 * labels
        if len - offset < entry_len then
            malformed(tree, e.truncated, string.format("Entry %d of %d truncated", i, count))
            return offset, i - 1
        end
        local entry = tree:add(f.encap_entry, tvb:range(offset, entry_len))
        local flags_range = tvb:range(offset, 1)
        local flags_item = entry:add(f.encap_flags, flags_range)
        flags_item:add(f.encap_primary, flags_range)
        flags_item:add(f.encap_loopback, flags_range)
        offset = offset + 1
        local label_text = {}
        if mpls then
            entry:add(f.mpls_label_count, tvb:range(offset, 1))
            offset = offset + 1
            for _ = 1, labels do
                local label_range = tvb:range(offset, 3)
                entry:add(f.mpls_label, label_range)
                entry:add(f.mpls_label_low, label_range)
                label_text[#label_text + 1] = tostring(math.floor(label_range:uint() / 16))
                offset = offset + 3
            end
        end
        local address_range = tvb:range(offset, address_len)
        entry:add(address_field, address_range)
        offset = offset + address_len
        local prefix_range = tvb:range(offset, 1)
        local prefix = prefix_range:uint()
        local prefix_item = entry:add(f.encap_prefix_length, prefix_range)
        if prefix > address_len * 8 then
            malformed(prefix_item, e.prefix,
                string.format("Prefix length %d longer than %d", prefix, address_len * 8))
        end
        offset = offset + 1
        local flags = flags_range:uint()
        local address = address_len == 4 and address_range:ipv4() or address_range:ipv6()
        local text = string.format("%s/%d", tostring(address), prefix)
        if #label_text > 0 then text = text .. " labels [" .. table.concat(label_text, ", ") .. "]" end
        if bit32.band(flags, 0x80) ~= 0 then text = text .. " Primary" end
        if bit32.band(flags, 0x40) ~= 0 then text = text .. " Loopback" end
        entry:set_text(string.format("Entry %d: %s", i, text))
        entry:set_len(offset - start)
    end
    return offset, count
end

-- Needs `need` body bytes from `offset`: true, or an expert note and false.
local function has(tvb, tree, offset, need, what)
    if tvb:len() - offset >= need then return true end
    malformed(tree, e.truncated, what .. " truncated")
    return false
end

-- The body of each PDU type: function(body, tree, offset, name) with `body` the PDU cut to its
-- declared length and `offset` past its header. Each returns the offset after the fields it
-- read (nil: the PDU is truncated, nothing more to show) and the Info column text.
local BODY = {}

-- HELLO and KEEPALIVE are empty.
BODY[0] = function(_, _, offset, name) return offset, name end
BODY[2] = BODY[0]

BODY[1] = function(body, tree, offset)
    if not has(body, tree, offset, 4 + 10 + 1, "OPEN") then return nil, "OPEN" end
    local nonce = body:range(offset, 4)
    local local_id = body:range(offset + 4, 10)
    tree:add(f.open_nonce, nonce)
    tree:add(f.open_local_id, local_id)
    local attr_len = body:range(offset + 14, 1):uint()
    tree:add(f.open_attr_length, body:range(offset + 14, 1))
    offset = offset + 15
    local info = string.format("OPEN nonce %s id %s", hex(nonce:raw()), hex(local_id:raw()))
    if not has(body, tree, offset, attr_len + 2, "OPEN attributes") then return nil, info end
    if attr_len > 0 then tree:add(f.open_attributes, body:range(offset, attr_len)) end
    offset = offset + attr_len
    local auth_range = body:range(offset, 2)
    local auth_item = tree:add(f.open_auth_length, auth_range)
    -- The authentication data's layout is unspecified: it shows as trailing bytes.
    if auth_range:uint() ~= 0 then auth_item:add_proto_expert_info(e.auth) end
    return offset + 2, info
end

BODY[3] = function(body, tree, offset)
    if not has(body, tree, offset, 5, "ACK") then return nil, "ACK" end
    local acked = body:range(offset, 1):uint()
    tree:add(f.ack_type, body:range(offset, 1))
    local error_range = body:range(offset + 1, 2)
    tree:add(f.ack_error_type, error_range)
    tree:add(f.ack_error_code, error_range)
    local hint_range = body:range(offset + 3, 2)
    tree:add(f.ack_error_hint, hint_range)
    local info = "ACK of " .. (PDU_NAMES[acked] or string.format("type %d", acked))
    local error_type = math.floor(error_range:uint() / 4096)
    if error_type ~= 0 then
        local code = error_range:uint() % 4096
        local text = string.format("%s, code %d (%s), hint %d",
            ERROR_TYPES[error_type] or string.format("error type %d", error_type),
            code, ERROR_CODES[code] or "unknown", hint_range:uint())
        tree:add_proto_expert_info(e.ack_error, "ACK with error: " .. text)
        info = info .. " (" .. text .. ")"
    end
    return offset + 5, info
end

local function encapsulation(body, tree, offset, name, pdu_type)
    if not has(body, tree, offset, 2, "Encapsulation count") then return nil, name end
    local count = body:range(offset, 2):uint()
    tree:add(f.encap_count, body:range(offset, 2))
    local after, read = dissect_entries(body, tree, offset + 2, count, pdu_type)
    local info = string.format("%s: %d address%s", name, count, count == 1 and "" or "es")
    if read < count then return nil, info end
    return after, info
end
for pdu_type = 4, 7 do
    BODY[pdu_type] = function(body, tree, offset, name) return encapsulation(body, tree, offset, name, pdu_type) end
end

BODY[255] = function(body, tree, offset)
    if not has(body, tree, offset, 5, "VENDOR") then return nil, "VENDOR" end
    local enterprise = body:range(offset, 4):uint()
    local vendor_type = body:range(offset + 4, 1):uint()
    tree:add(f.vendor_enterprise, body:range(offset, 4))
    tree:add(f.vendor_type, body:range(offset + 4, 1))
    offset = offset + 5
    local data_len = body:len() - offset
    if data_len > 0 then tree:add(f.vendor_data, body:range(offset, data_len)) end
    return nil, string.format("VENDOR enterprise %d type %d, %d bytes", enterprise, vendor_type, data_len)
end

local function unknown(body, tree, offset, name)
    tree:add_proto_expert_info(e.unknown_type, name)
    if body:len() > offset then tree:add(f.pdu_data, body:range(offset, body:len() - offset)) end
    return nil, name
end

-- One PDU (type, length, body) in `tvb`; returns the Info column text.
local function dissect_pdu(tvb, tree)
    local len = tvb:len()
    if len < PDU_HEADER_LEN then
        malformed(tree, e.truncated, string.format("PDU of %d bytes, shorter than its 3-byte header", len))
        return "Truncated PDU"
    end
    local pdu_type = tvb:range(0, 1):uint()
    local name = PDU_NAMES[pdu_type] or string.format("Unknown PDU type %d", pdu_type)
    local pdu_tree = tree:add(lsoe, tvb:range(0, len), name .. " PDU")
    pdu_tree:add(f.pdu_type, tvb:range(0, 1))
    local declared = tvb:range(1, 2):uint()
    local length_item = pdu_tree:add(f.pdu_length, tvb:range(1, 2))
    if declared ~= len then
        malformed(length_item, e.pdu_length,
            string.format("PDU length %d, but the PDU has %d bytes", declared, len))
    end
    -- Decode what both the length and the bytes cover.
    local stop = math.max(math.min(declared, len), PDU_HEADER_LEN)
    local body = tvb:range(0, stop):tvb()
    local offset, info = (BODY[pdu_type] or unknown)(body, pdu_tree, PDU_HEADER_LEN, name)
    if offset ~= nil and offset < stop then
        pdu_tree:add(f.trailing, body:range(offset, stop - offset))
        malformed(pdu_tree, e.trailing, string.format("%d byte%s after the %s PDU's fields",
            stop - offset, stop - offset == 1 and "" or "s", name))
    end
    return info
end

function lsoe.dissector(tvb, pinfo, tree)
    local payload_len = tvb:len()
    malformed_seen = false
    pinfo.cols.protocol = "LSoE"
    local root = tree:add(lsoe, tvb:range(0, payload_len))
    if payload_len < HEADER_LEN then
        root:add_proto_expert_info(e.runt, string.format("Payload of %d bytes", payload_len))
        pinfo.cols.info = "Runt datagram"
        return payload_len
    end

    local version = tvb:range(0, 1):uint()
    local version_item = root:add(f.version, tvb:range(0, 1))
    root:add(f.last, tvb:range(1, 1))
    root:add(f.datagram, tvb:range(1, 1))
    local length = tvb:range(2, 2):uint()
    local length_item = root:add(f.length, tvb:range(2, 2))
    local checksum_range = tvb:range(4, 4)
    root:add(f.checksum, checksum_range)
    local flags = tvb:range(1, 1):uint()
    local number = flags % 128
    local last = flags >= LAST_FLAG

    if version ~= 0 then
        version_item:add_proto_expert_info(e.bad_version, string.format("Version %d (only 0 is spoken)", version))
        root:add(f.checksum_status, checksum_range, CHECKSUM_UNVERIFIED):set_generated()
        pinfo.cols.info = string.format("Datagram of version %d", version)
        return payload_len
    end
    if length < HEADER_LEN or length > payload_len then
        length_item:add_proto_expert_info(e.bad_length,
            string.format("Datagram length %d, payload %d bytes", length, payload_len))
        root:add(f.checksum_status, checksum_range, CHECKSUM_UNVERIFIED):set_generated()
        pinfo.cols.info = "Datagram with a bad length"
        return payload_len
    end
    -- Past `length` is Ethernet minimum-frame padding: not part of the datagram.
    root:set_len(length)
    if payload_len > length then tree:add(f.padding, tvb:range(length, payload_len - length)) end

    local raw = tvb:raw(0, length)
    local calculated = sbox_checksum(raw)
    local good = calculated == checksum_range:uint()
    root:add(f.checksum_calculated, checksum_range, calculated):set_generated()
    root:add(f.checksum_status, checksum_range, good and CHECKSUM_GOOD or CHECKSUM_BAD):set_generated()
    if not good then
        root:add_tvb_expert_info(e.bad_checksum, checksum_range,
            string.format("Bad checksum: 0x%08x, calculated 0x%08x", checksum_range:uint(), calculated))
    end

    local info
    if number == 0 and last then
        info = length > HEADER_LEN and dissect_pdu(tvb:range(HEADER_LEN, length - HEADER_LEN):tvb(), root)
            or dissect_pdu(ByteArray.new():tvb("Empty PDU"), root)
    else
        if length > HEADER_LEN then root:add(f.payload, tvb:range(HEADER_LEN, length - HEADER_LEN)) end
        local frame = pinfo.number
        if not pinfo.visited and good then
            local note, pdu_raw, frames = reassemble(tostring(pinfo.dl_src), number, last,
                raw:sub(HEADER_LEN + 1), frame, pinfo.abs_ts)
            fragment_notes[frame] = note
            if pdu_raw ~= nil then
                reassembled[frame] = { raw = pdu_raw, frames = frames }
                for _, n in ipairs(frames) do reassembled_in[n] = frame end
            end
        end
        local note = fragment_notes[frame] or "datagram with a bad checksum (not reassembled)"
        local done = reassembled[frame]
        if reassembled_in[frame] ~= nil and reassembled_in[frame] ~= frame then
            root:add(f.reassembled_in, reassembled_in[frame]):set_generated()
        end
        if note:find("dropped", 1, true) or not good then
            root:add_proto_expert_info(e.fragment_dropped, note)
        else
            root:add_proto_expert_info(e.fragment, note)
        end
        if done ~= nil then
            for _, n in ipairs(done.frames) do root:add(f.fragment, n):set_generated() end
            root:add(f.reassembled_length, #done.raw):set_generated()
            local bytes = ByteArray.new(hex(done.raw))
            info = dissect_pdu(bytes:tvb("Reassembled LSoE PDU"), root)
        else
            info = string.format("Datagram %d%s of a PDU", number, last and " (last)" or "")
        end
    end
    if malformed_seen then info = info .. " [MALFORMED]" end
    if not good then info = info .. " [BAD CHECKSUM]" end
    pinfo.cols.info = info
    return length
end

local ethertype_table = DissectorTable.get("ethertype")
for _, ethertype in ipairs(ETHERTYPES) do ethertype_table:add(ethertype, lsoe) end

local builtin = {}
for _, ethertype in ipairs(ETHERTYPES) do builtin[ethertype] = true end
local extra_added = {}
function lsoe.prefs_changed()
    for _, ethertype in ipairs(extra_added) do ethertype_table:remove(ethertype, lsoe) end
    extra_added = {}
    for item in string.gmatch(lsoe.prefs.extra_ethertypes, "[^,%s]+") do
        local ethertype = tonumber(item)
        if ethertype ~= nil and ethertype >= 0 and ethertype <= 0xffff and not builtin[ethertype] then
            ethertype_table:add(ethertype, lsoe)
            extra_added[#extra_added + 1] = ethertype
        end
    end
end
