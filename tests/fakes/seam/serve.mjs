// Seam's own fake API (@seamapi/fake-seam-connect, pinned) on 127.0.0.1, for lockbot's tests and bench.
// Prints one JSON line on stdout: {url, api_key, workspace_id, devices: [{device_id, name}], pid}.
//
// Env: PORT (0 = a free port), API_KEY, LOCKS ("A,B,C"; ids lock_1, lock_2, …),
//      ACTION_DELAY_MS (0 = the fake's own instant success; above 0 attempts stay pending that
//      long, then succeed, or fail with device_offline where the device is offline).
//
// Control routes (no auth), all JSON:
//   POST /_fixture/set_device    {device_id, online?, locked?, battery_level?}
//   POST /_fixture/remove_device {device_id}
//   POST /_fixture/config        {action_delay_ms?, confirmed_by_device?}
//   POST /_fixture/fail          {path, status?, count?, retry_after?, delay_ms?, error_type?, message?}
//        the next `count` requests to `path` fail with `status` and a Seam error body; with
//        delay_ms and no status, they are answered normally after that delay (a slow Seam)
//   GET  /_fixture/calls         {calls: {path: count}}   POST /_fixture/reset clears it and faults
//   GET  /_fixture/attempts      {attempts: [{action_attempt_id, device_id, action_type, created_ms,
//                                  completed_ms, status}]}
import http from "node:http"
import { createFake } from "@seamapi/fake-seam-connect"

const env = process.env
const HOST = "127.0.0.1"
const API_KEY = env.API_KEY ?? "seam_testkey_fixture"
const LOCKS = (env.LOCKS ?? "Front Door,Back Door,Garage Door").split(",").map((s) => s.trim()).filter(Boolean)
let delayMs = Number(env.ACTION_DELAY_MS ?? 0)
let confirmedByDevice = true

const fake = await createFake()
const db = fake.database // zustand store
const workspace = db.addWorkspace({ name: "Bot Test Workspace", workspace_id: "ws_bot_test", is_sandbox: true })
db.addApiKey({ name: "bot test key", token: API_KEY, workspace_id: workspace.workspace_id })
const account = db.addConnectedAccount({ provider: "august", workspace_id: workspace.workspace_id,
  user_identifier: { email: "bot@example.com" }, connected_account_id: "ca_bot_test" })
const devices = LOCKS.map((name, i) => db.addDevice({
  device_id: `lock_${i + 1}`, device_type: "august_lock", name, display_name: name,
  workspace_id: workspace.workspace_id, connected_account_id: account.connected_account_id,
  can_remotely_lock: true, can_remotely_unlock: true,
  properties: { locked: true, online: true, manufacturer: "august" },
}))

const attempts = new Map() // action_attempt_id -> timeline
const successResult = () => (confirmedByDevice ? {} : { was_confirmed_by_device: false })

// lock_door/unlock_door call addActionAttempt, updateActionAttempt, updateDevice, addEvent
// synchronously; intercept them to defer the outcome.
const orig = { ...db.getState() }
let cur = null
db.setState({
  addActionAttempt(p) {
    const aa = orig.addActionAttempt(p)
    if (/^(UN)?LOCK_DOOR$/.test(p.action_type)) {
      attempts.set(aa.action_attempt_id, { action_attempt_id: aa.action_attempt_id, action_type: p.action_type,
        device_id: null, created_ms: Date.now(), completed_ms: null, status: "pending" })
    }
    cur = delayMs > 0 && /^(UN)?LOCK_DOOR$/.test(p.action_type) ? { id: aa.action_attempt_id } : null
    return aa
  },
  updateActionAttempt(p) {
    if (cur && p.action_attempt_id === cur.id) return orig.findActionAttempt(p)
    const timeline = attempts.get(p.action_attempt_id)
    if (timeline && p.status && p.status !== "pending" && timeline.completed_ms === null) {
      timeline.completed_ms = Date.now()
      timeline.status = p.status
    }
    if (p.status === "success") p = { ...p, result: successResult() }
    return orig.updateActionAttempt(p)
  },
  updateDevice(p) {
    const timeline = cur ? attempts.get(cur.id) : [...attempts.values()].at(-1)
    if (timeline && timeline.device_id === null) timeline.device_id = p.device_id
    if (!cur) return orig.updateDevice(p)
    cur.device = p
    return db.getState().devices.find((d) => d.device_id === p.device_id)
  },
  addEvent(p) {
    if (!cur) return orig.addEvent(p)
    const { id, device } = cur
    cur = null
    setTimeout(() => {
      const d = db.getState().devices.find((x) => x.device_id === device.device_id)
      if (d?.properties?.online === false) {
        db.getState().updateActionAttempt({ action_attempt_id: id, status: "error", result: null,
          error: { type: "device_offline", message: "Device is offline" } })
      } else {
        orig.updateDevice(device)
        orig.addEvent(p)
        db.getState().updateActionAttempt({ action_attempt_id: id, status: "success", result: {}, error: null })
      }
    }, delayMs)
    return p
  },
})

// The fake calls server.listen(port): force loopback.
const listen = http.Server.prototype.listen
http.Server.prototype.listen = function (port, cb) {
  return typeof cb === "function" ? listen.call(this, port, HOST, cb) : listen.apply(this, arguments)
}
const server = await fake.startServer({ port: Number(env.PORT ?? 0) })
http.Server.prototype.listen = listen
const srv = server.server
const url = `http://${HOST}:${srv.address().port}`

let calls = {}
let faults = [] // {path, status, count, retry_after, delay_ms, error_type, message}

const ERROR_TYPES = { 400: "invalid_input", 401: "unauthorized", 404: "device_not_found", 429: "rate_limited" }

function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}

function handleFixture(req, res, p) {
  const path = req.url.split("?")[0]
  if (path === "/_fixture/config") {
    if (p.action_delay_ms != null) delayMs = Number(p.action_delay_ms)
    if (p.confirmed_by_device != null) confirmedByDevice = Boolean(p.confirmed_by_device)
    return sendJson(res, 200, { ok: true, action_delay_ms: delayMs, confirmed_by_device: confirmedByDevice })
  }
  if (path === "/_fixture/set_device" && db.getState().devices.some((d) => d.device_id === p.device_id)) {
    const props = {}
    if (p.online != null) props.online = p.online
    if (p.locked != null) props.locked = p.locked
    if (p.battery_level != null) props.battery_level = p.battery_level
    return sendJson(res, 200, { ok: true, device: orig.updateDevice({ device_id: p.device_id, properties: props }) })
  }
  if (path === "/_fixture/remove_device" && db.getState().devices.some((d) => d.device_id === p.device_id)) {
    db.getState().deleteDevice(p.device_id)
    return sendJson(res, 200, { ok: true })
  }
  if (path === "/_fixture/fail" && typeof p.path === "string") {
    faults.push({ count: 1, ...p })
    return sendJson(res, 200, { ok: true, faults })
  }
  if (path === "/_fixture/calls") return sendJson(res, 200, { ok: true, calls })
  if (path === "/_fixture/attempts") return sendJson(res, 200, { ok: true, attempts: [...attempts.values()] })
  if (path === "/_fixture/reset") {
    calls = {}
    faults = []
    return sendJson(res, 200, { ok: true })
  }
  return sendJson(res, 404, { ok: false, error: { type: "not_found", message: "bad fixture request" } })
}

// Seam's documented event types (reference: api/events). The pinned fake knows an older, smaller
// catalogue; /webhooks/create is checked against the documented one, and the fake gets the types it knows.
const DOCUMENTED_EVENT_TYPES = new Set(["access_code.created", "access_code.changed", "access_code.name_changed", "access_code.code_changed", "access_code.time_frame_changed", "access_code.scheduled_on_device", "access_code.set_on_device", "access_code.removed_from_device", "access_code.delay_in_setting_on_device", "access_code.failed_to_set_on_device", "access_code.deleted", "access_code.delay_in_removing_from_device", "access_code.failed_to_remove_from_device", "access_code.modified_external_to_seam", "access_code.deleted_external_to_seam", "access_code.backup_access_code_pulled", "access_code.unmanaged.converted_to_managed", "access_code.unmanaged.failed_to_convert_to_managed", "access_code.unmanaged.created", "access_code.unmanaged.removed", "access_grant.created", "access_grant.deleted", "access_grant.access_granted_to_all_doors", "access_grant.access_granted_to_door", "access_grant.access_to_door_lost", "access_grant.access_times_changed", "access_grant.could_not_create_requested_access_methods", "access_method.issued", "access_method.revoked", "access_method.card_encoding_required", "access_method.deleted", "access_method.reissued", "access_method.created", "acs_system.connected", "acs_system.added", "acs_system.disconnected", "acs_credential.deleted", "acs_credential.issued", "acs_credential.reissued", "acs_credential.invalidated", "acs_user.created", "acs_user.deleted", "acs_encoder.added", "acs_encoder.removed", "acs_access_group.deleted", "acs_entrance.added", "acs_entrance.removed", "client_session.deleted", "connected_account.connected", "connected_account.created", "connected_account.disconnected", "connected_account.completed_first_sync", "connected_account.deleted", "connected_account.completed_first_sync_after_reconnection", "connected_account.reauthorization_requested", "action_attempt.lock_door.succeeded", "action_attempt.lock_door.failed", "action_attempt.unlock_door.succeeded", "action_attempt.unlock_door.failed", "action_attempt.simulate_keypad_code_entry.succeeded", "action_attempt.simulate_keypad_code_entry.failed", "action_attempt.simulate_manual_lock_via_keypad.succeeded", "action_attempt.simulate_manual_lock_via_keypad.failed", "connect_webview.login_succeeded", "connect_webview.login_failed", "device.connected", "device.added", "device.converted_to_unmanaged", "device.unmanaged.converted_to_managed", "device.unmanaged.connected", "device.disconnected", "device.unmanaged.disconnected", "device.tampered", "device.low_battery", "device.battery_status_changed", "device.removed", "device.deleted", "device.third_party_integration_detected", "device.third_party_integration_no_longer_detected", "device.salto.privacy_mode_activated", "device.salto.privacy_mode_deactivated", "device.connection_became_flaky", "device.connection_stabilized", "device.error.subscription_required", "device.error.subscription_required.resolved", "device.accessory_keypad_connected", "device.accessory_keypad_disconnected", "noise_sensor.noise_threshold_triggered", "lock.locked", "lock.unlocked", "lock.access_denied", "thermostat.climate_preset_activated", "thermostat.manually_adjusted", "thermostat.temperature_threshold_exceeded", "thermostat.temperature_threshold_no_longer_exceeded", "thermostat.temperature_reached_set_point", "thermostat.temperature_changed", "device.name_changed", "camera.activated", "device.doorbell_rang", "enrollment_automation.deleted", "phone.deactivated", "space.device_membership_changed", "space.created", "space.deleted"])

function createWebhook(req, res) {
  let raw = ""
  req.on("data", (c) => (raw += c))
  req.on("end", async () => {
    let p
    try { p = JSON.parse(raw || "{}") } catch { p = {} }
    const wanted = Array.isArray(p.event_types) ? p.event_types : []
    const unknown = wanted.filter((t) => !DOCUMENTED_EVENT_TYPES.has(t))
    if (unknown.length > 0) {
      return sendJson(res, 400, { error: { type: "invalid_event_types", message: `Invalid event types: ${unknown.join(", ")}` } })
    }
    const known = wanted.filter((t) => ["lock.locked", "lock.unlocked", "device.connected", "device.disconnected", "device.low_battery"].includes(t))
    const answer = await fetch(`${url}/webhooks/create`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: req.headers.authorization ?? "",
        "x-fixture-forwarded": "1",
      },
      body: JSON.stringify({ ...p, event_types: known }),
    })
    const body = await answer.json()
    if (body.webhook) body.webhook.event_types = wanted
    sendJson(res, answer.status, body)
  })
}

const handlers = srv.listeners("request")
srv.removeAllListeners("request")
srv.on("request", (req, res) => {
  const path = req.url.split("?")[0]
  if (path.startsWith("/_fixture/")) {
    let body = ""
    req.on("data", (c) => (body += c))
    req.on("end", () => {
      let p
      try { p = JSON.parse(body || "{}") } catch { p = {} }
      handleFixture(req, res, p)
    })
    return
  }
  calls[path] = (calls[path] ?? 0) + 1
  if (path === "/webhooks/create" && !req.headers["x-fixture-forwarded"]) return createWebhook(req, res)
  const fault = faults.find((f) => f.path === path && f.count > 0)
  const forward = () => handlers.forEach((h) => h.call(srv, req, res))
  if (!fault) return forward()
  fault.count -= 1
  faults = faults.filter((f) => f.count > 0)
  const answer = () => {
    if (!fault.status) return forward()
    const headers = fault.retry_after != null ? { "retry-after": String(fault.retry_after) } : {}
    const type = fault.error_type ?? ERROR_TYPES[fault.status] ?? "internal_server_error"
    sendJson(res, fault.status, { error: { type, message: fault.message ?? `fixture fault ${fault.status}` } }, headers)
  }
  if (fault.delay_ms) {
    req.pause()
    setTimeout(() => { req.resume(); answer() }, fault.delay_ms)
  } else {
    answer()
  }
})

const stop = () => { srv.close(() => process.exit(0)); setTimeout(() => process.exit(0), 1000).unref() }
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
console.log(JSON.stringify({ url, api_key: API_KEY, workspace_id: workspace.workspace_id,
  devices: devices.map((d) => ({ device_id: d.device_id, name: d.properties.name })), pid: process.pid }))
