-- The Lua half of the mikopbx profile's dialplan (pbx_lua), written for the harness after
-- MikoPBX's src/Core/Asterisk/Configs/lua/extensions.lua: the dialplan Gosubs into these
-- contexts at each step of a call (dial, channel created, answer, transfer, queue, hang-up,
-- out-of-hours, voicemail), and each one reports the step as
--     UserEvent(CdrConnector, AgiData: <base64 of a JSON object>)
-- with MikoPBX's keys (action, UNIQUEID, linkedid, src_chan, dst_chan, src_num, dst_num, did,
-- transfer, is_app, recordingfile...), sets the same channel variables (pt1c_UNIQUEID,
-- transfer_UNIQUEID, M_DIALSTATUS...) and starts MixMonitor on answer with MikoPBX's file
-- naming: <MONITOR_DIR>/YYYY/MM/DD/HH/<UNIQUEID>_<6 random>.wav. Only what the call tracker
-- can observe is kept; 1C/CTI extras and announcements are left out.

local function get(name)
    local value = channel[name]:get()
    if value == nil then
        return ""
    end
    return value
end

local function set(name, value)
    channel[name]:set(value)
end

local function now()
    return get("STRFTIME(,,%Y-%m-%d %H:%M:%S.%q)")
end

local function random_id(len)
    local chars = "abcdefghijklmnopqrstuvwxyz0123456789"
    local out = {}
    for i = 1, len do
        local k = math.random(1, #chars)
        out[i] = chars:sub(k, k)
    end
    return table.concat(out)
end

local function json_string(s)
    s = tostring(s)
    s = s:gsub('[%c"\\]', function(c)
        if c == '"' then return '\\"' end
        if c == "\\" then return "\\\\" end
        return string.format("\\u%04x", c:byte())
    end)
    return '"' .. s .. '"'
end

local function json(data)
    local keys = {}
    for k in pairs(data) do
        keys[#keys + 1] = k
    end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do
        local v = data[k]
        local text
        if type(v) == "boolean" then
            text = v and "true" or "false"
        elseif type(v) == "number" then
            text = tostring(v)
        else
            text = json_string(v)
        end
        parts[#parts + 1] = json_string(k) .. ":" .. text
    end
    return "{" .. table.concat(parts, ",") .. "}"
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(data)
    return ((data:gsub(".", function(x)
        local r, b = "", x:byte()
        for i = 8, 1, -1 do
            r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0")
        end
        return r
    end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
        if #x < 6 then return "" end
        local c = 0
        for i = 1, 6 do
            c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0)
        end
        return B64:sub(c + 1, c + 1)
    end) .. ({ "", "==", "=" })[#data % 3 + 1])
end

local function send(data)
    app.UserEvent("CdrConnector,AgiData:" .. base64(json(data)))
end

local function send_return(data)
    send(data)
    app["return"]()
end

local function is_local(chan)
    return string.lower(chan):find("local/") ~= nil
end

-- The account (peer) of a PJSIP channel: PJSIP/201-0000000a -> 201.
local function account_of(chan)
    if is_local(chan) then
        return ""
    end
    local name = chan:match("^[^/]+/(.+)%-[^-]+$")
    return name or ""
end

local function start_recording(id)
    local dir = get("MONITOR_DIR")
    local chan = get("CHANNEL")
    if dir == "" or is_local(chan) then
        return ""
    end
    local file = dir .. "/" .. os.date("%Y/%m/%d/%H") .. "/" .. id
    app.MixMonitor(file .. ".wav,ab")
    app.UserEvent("StartRecording,recordingfile:" .. file .. ".wav,recchan:" .. chan)
    return file .. ".wav"
end

local function skip()
    local exten = get("EXTEN")
    return exten == "h" or exten == "t" or exten == "i"
end

-- dial: a call starts to a number (from all_peers, internal-users, outgoing routes).
local function dial_data()
    local data = { start = now(), action = "dial", transfer = "0" }
    local id = get("pt1c_UNIQUEID")
    local orgnt = get("IS_ORGNT")
    if id ~= "" and orgnt == "" then
        return nil
    end
    id = get("UNIQUEID") .. "_" .. random_id(6)
    local chan = get("CHANNEL")
    local src = chan
    local queue_src = get("QUEUE_SRC_CHAN")
    local orign = get("orign_chan")
    if queue_src ~= "" and is_local(chan) then
        src = queue_src
    elseif is_local(chan) and orign ~= "" and not is_local(orign) then
        src = orign
    end
    local from_account = get("FROM_PEER")
    if from_account == "" then
        from_account = account_of(chan)
    end
    data.src_chan = src
    data.agi_channel = chan
    data.src_num = get("CALLERID(num)")
    data.dst_num = get("EXTEN")
    data.linkedid = get("CHANNEL(linkedid)")
    data.UNIQUEID = id
    data.did = get("FROM_DID")
    data.from_account = from_account
    data.IS_ORGNT = (orgnt ~= "")
    data.verbose_call_id = get("CHANNEL(callid)")
    set("__pt1c_UNIQUEID", id)
    return data
end

local function event_dial()
    if get("NOCDR") ~= "" then
        app["return"]()
        return
    end
    local data = dial_data()
    if data == nil then
        app["return"]()
        return
    end
    send_return(data)
end

local function event_dial_create_chan()
    local id = get("pt1c_UNIQUEID")
    local chan = get("CHANNEL")
    local data = {
        action = "dial_create_chan",
        event_time = now(),
        UNIQUEID = id,
        dst_chan = chan,
        linkedid = get("CHANNEL(linkedid)"),
    }
    if not is_local(chan) then
        data.to_account = account_of(chan)
    end
    if get("PROVIDER_ID") ~= "" then
        set("MASTER_CHANNEL(__TO_CHAN)", chan)
    end
    send_return(data)
end

local function event_dial_answer()
    local id = get("pt1c_UNIQUEID")
    local data = { action = "dial_answer", answer = now(), agi_channel = get("CHANNEL"), id = id }
    local file = start_recording(id)
    if file ~= "" then
        data.recordingfile = file
    end
    local old = get("OLD_LINKEDID")
    data.linkedid = old ~= "" and old or get("CHANNEL(linkedid)")
    data.BRIDGEPEER = get("FROM_CHAN")
    data.dst_num = get("CALLERID(num)")
    local from = get("FROM_CHAN")
    if from ~= "" and get("CHANNEL_EXISTS(" .. from .. ")") == "1" then
        set("EXPORT(" .. from .. ",M_DIALSTATUS)", "ANSWER")
    end
    set("MASTER_CHANNEL(M_DIALSTATUS)", "ANSWER")
    send_return(data)
end

local function event_dial_end()
    app.UserEvent("DialFail,REASON:NO_CONTACTS")
    send_return({
        action = "dial_end",
        endtime = now(),
        UNIQUEID = get("pt1c_UNIQUEID"),
        src_chan = get("CHANNEL"),
        linkedid = get("CHANNEL(linkedid)"),
    })
end

-- transfer_dial: the target of a transfer is being dialled (ISTRANSFER=transfer_).
local function event_transfer_dial()
    local id = get("UNIQUEID") .. "_" .. random_id(6)
    local transferer = get("TRANSFERERNAME")
    local queue_src = get("QUEUE_SRC_CHAN")
    local chan
    if queue_src ~= "" and (transferer == "" or is_local(transferer)) then
        chan = queue_src
    elseif transferer == "" then
        chan = get("CHANNEL")
    else
        chan = transferer
    end
    local data = {
        start = now(),
        action = "transfer_dial",
        agi_channel = chan,
        is_queue = queue_src ~= "" and "1" or "0",
        linkedid = get("CHANNEL(linkedid)"),
        src_chan = chan,
        did = get("FROM_DID"),
        UNIQUEID = id,
        transfer = transferer == "" and "0" or "1",
        src_num = get("CALLERID(num)"),
        dst_num = get("EXTEN"),
    }
    set("__transfer_UNIQUEID", id)
    send_return(data)
end

local function event_transfer_dial_create_chan()
    set("CHANNEL(hangup_handler_wipe)", "hangup_handler,s,1")
    send_return({
        action = "transfer_dial_create_chan",
        transfer_UNIQUEID = get("transfer_UNIQUEID"),
        dst_chan = get("CHANNEL"),
        linkedid = get("CHANNEL(linkedid)"),
    })
end

local function event_transfer_dial_answer()
    local id = get("transfer_UNIQUEID")
    local data = {
        action = "transfer_dial_answer",
        transfer_UNIQUEID = id,
        answer = now(),
        agi_channel = get("CHANNEL"),
        linkedid = get("CHANNEL(linkedid)"),
    }
    local file = start_recording(id)
    if file ~= "" then
        data.recordingfile = file
    end
    send_return(data)
end

local function event_transfer_dial_hangup()
    local chan = get("CHANNEL")
    local data = {
        action = "transfer_dial_hangup",
        ["end"] = now(),
        linkedid = get("CHANNEL(linkedid)"),
        did = get("FROM_DID"),
        agi_channel = chan,
        agi_threadid = get("UNIQUEID") .. "_" .. random_id(6),
    }
    if is_local(chan) then
        data.TRANSFERERNAME = get("TRANSFERERNAME")
        data.ANSWEREDTIME = get("ANSWEREDTIME")
        data.dst_chan = get("CDR(dstchannel)")
    end
    if get("EXTEN") == "h" then
        send(data)
    else
        send_return(data)
    end
end

local function event_hangup_chan()
    local status = get("DIALSTATUS")
    if status == "ANSWER" then
        status = "ANSWERED"
    end
    local id = get("pt1c_UNIQUEID")
    if id == "" then
        id = get("transfer_UNIQUEID")
    end
    send_return({
        action = "hangup_chan",
        ["end"] = now(),
        src_num = get("CALLERID(num)"),
        did = get("FROM_DID"),
        agi_threadid = get("UNIQUEID") .. "_" .. random_id(6),
        linkedid = get("CHANNEL(linkedid)"),
        dialstatus = status,
        agi_channel = get("CHANNEL"),
        OLD_LINKEDID = get("OLD_LINKEDID"),
        UNIQUEID = id,
        VMSTATUS = get("VMSTATUS"),
        verbose_call_id = get("CHANNEL(callid)"),
    })
end

local function event_queue_start()
    local id = get("pt1c_UNIQUEID")
    if id == "" or get("ISTRANSFER") ~= "" then
        id = get("UNIQUEID") .. "_" .. random_id(6)
    end
    local data = {
        action = "queue_start",
        dst_num = get("EXTEN"),
        dst_chan = "Queue:" .. get("EXTEN"),
        did = get("FROM_DID"),
        is_app = "1",
        UNIQUEID = id,
        linkedid = get("CHANNEL(linkedid)"),
        src_chan = get("QUEUE_SRC_CHAN"),
        src_num = get("CALLERID(num)"),
        start = now(),
        transfer = get("ISTRANSFER") ~= "" and "1" or "0",
    }
    set("__pt1c_q_UNIQUEID", id)
    send_return(data)
end

local function event_queue_answer()
    send_return({
        action = "queue_answer",
        answer = now(),
        id = get("pt1c_q_UNIQUEID"),
        agi_channel = get("CHANNEL"),
        linkedid = get("CHANNEL(linkedid)"),
    })
end

local function event_queue_end()
    send_return({
        action = "queue_end",
        ["end"] = now(),
        id = get("pt1c_q_UNIQUEID"),
        dialstatus = get("QUEUESTATUS"),
        agi_channel = get("CHANNEL"),
        linkedid = get("CHANNEL(linkedid)"),
    })
end

-- dial_app: a call reaches an application (IVR, conference...), reported as is_app.
local function event_dial_app()
    local data = dial_data()
    if data == nil then
        app["return"]()
        return
    end
    local appexten = get("APPEXTEN")
    data.dst_chan = "App:" .. (appexten ~= "" and appexten or get("EXTEN"))
    data.dst_num = appexten ~= "" and appexten or get("EXTEN")
    data.is_app = 1
    if get("NEED_MONITOR") == "1" then
        local file = start_recording(data.UNIQUEID)
        if file ~= "" then
            data.recordingfile = file
        end
    end
    send_return(data)
end

local function event_dial_outworktimes()
    local data = dial_data() or { action = "dial", linkedid = get("CHANNEL(linkedid)") }
    data.dst_chan = "App:outworktimes"
    data.dst_num = "outworktimes"
    data.is_app = 1
    send_return(data)
end

local function event_voicemail_start()
    local id = get("UNIQUEID") .. "_" .. random_id(6)
    local chan = get("CHANNEL")
    set("__pt1c_UNIQUEID", id)
    send_return({
        action = "voicemail_start",
        start = now(),
        answer = now(),
        src_chan = chan,
        src_num = get("CALLERID(num)"),
        dst_num = get("EXTEN"),
        dst_chan = "VOICEMAIL",
        linkedid = get("CHANNEL(linkedid)"),
        UNIQUEID = id,
        transfer = "0",
        agi_channel = chan,
        did = get("FROM_DID"),
        from_account = get("FROM_PEER"),
        IS_ORGNT = false,
    })
end

local function set_from_peer()
    local peer = account_of(get("CHANNEL"))
    set("__FROM_PEER", peer)
    app["return"]()
end

local function guarded(fn)
    return function()
        if skip() then
            app["return"]()
            return
        end
        fn()
    end
end

extensions = {
    dial = { ["_.!"] = guarded(event_dial) },
    transfer_dial = { ["_.!"] = guarded(event_transfer_dial) },
    lua_dial_create_chan = { ["_.!"] = guarded(event_dial_create_chan) },
    dial_answer = { ["_.!"] = guarded(event_dial_answer) },
    lua_transfer_dial_create_chan = { ["_.!"] = guarded(event_transfer_dial_create_chan) },
    transfer_dial_answer = { ["_.!"] = guarded(event_transfer_dial_answer) },
    transfer_dial_hangup = { ["_.!"] = event_transfer_dial_hangup },
    hangup_chan = { ["_.!"] = event_hangup_chan },
    queue_start = { ["_.!"] = guarded(event_queue_start) },
    queue_answer = { ["_.!"] = guarded(event_queue_answer) },
    queue_end = { ["_.!"] = guarded(event_queue_end) },
    dial_app = { ["_.!"] = guarded(event_dial_app) },
    dial_outworktimes = { ["_.!"] = guarded(event_dial_outworktimes) },
    set_from_peer = { ["_.!"] = set_from_peer },
    voicemail_start = { ["_.!"] = guarded(event_voicemail_start) },
    dial_end = { ["_.!"] = guarded(event_dial_end) },
}
