/**
 * The commented starter config that `flowgate init` writes: what a site
 * gateway needs to run, each section pointing to the README section that
 * explains it, and an example bridge left commented out.
 */

export interface StarterOptions {
  /** `gateway.id`: any string; characters the schema does not allow become `-`. */
  gatewayId: string
  /** `gateway.dataDir`, absolute. */
  dataDir: string
  /** `admin.token`. */
  adminToken: string
  /** Written for the systemd unit (its `StateDirectory` holds the data). */
  service: boolean
}

/** A gateway id the schema accepts (`^[A-Za-z0-9._-]+$`) from a host name. */
export function safeGatewayId (name: string): string {
  const id = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '')
  return id === '' ? 'flowgate' : id
}

export function starterConfig (opts: StarterOptions): string {
  const runHint = opts.service
    ? '# It is written for the systemd unit printed by `flowgate init --systemd`, which takes\n# the values of ${VAR} from flowgate.env beside this file (README "Install on a Pi").'
    : '# Run it with `flowgate start --config <this file>` (README "Commands").'
  return `# flowgate configuration, written by \`flowgate init\`.
# Check it with \`flowgate check-config --config <this file>\`. Every key, its default
# and meaning: README "Reference". Sizes: 512KiB, 1GiB; durations: 500ms, 30s, 7d.
# A running gateway reads this file again when it changes, and on SIGHUP
# (README "Reloading the configuration").
${runHint}

gateway:
  # Names this gateway in every event it sends upstream; keep it stable.
  id: ${JSON.stringify(safeGatewayId(opts.gatewayId))}
  # The event log, the bridges' cursors and the broker's state (LevelDB).
  dataDir: ${JSON.stringify(opts.dataDir)}
  logLevel: info

# The MQTT broker (README "Who may connect", "Access rules", "Limits").
broker:
  listeners:
    # 127.0.0.1: this machine only, anonymous clients allowed. For devices on the
    # network use host: 0.0.0.0 and give them users below (beyond loopback,
    # anonymous clients are refused unless the listener sets allowAnonymous: true).
    - host: 127.0.0.1
      port: 1883
  # auth:
  #   users:
  #     - name: sensor-1
  #       password: "scrypt$..."          # the hash printed by \`flowgate passwd\`
  # acl:
  #   - publish: ["devices/%u/#"]         # every device writes below its own name

# The event log (README "Durability: sync or async", "Retention and a full log").
storage:
  durability: sync           # fsync before acknowledging: an acknowledged publish survives a power cut
  commitWindow: 20ms         # gather publishes for up to 20ms per write and fsync: about a tenth of the
                             # writes to an SD card at a steady trickle; 0ms acknowledges soonest
  retention:
    maxAge: 7d
    maxBytes: 1GiB           # keep it well below the free space of the disk or SD card
  whenFull: drop-oldest      # or reject-new

# Status, control and /metrics over HTTP (README "Admin API").
admin:
  host: 127.0.0.1
  port: 9080
  # Every request but /healthz and /readyz needs "Authorization: Bearer <token>";
  # the operator commands (flowgate status, ...) take it from --token or $FLOWGATE_ADMIN_TOKEN.
  token: ${JSON.stringify(opts.adminToken)}

# Bridges deliver the log upstream as CloudEvents over HTTP (README "Bridges").
# bridges:
#   - name: cloud
#     topics: ["devices/+/telemetry"]
#     event:
#       topicPattern: devices/{deviceid}/{kind}
#       type: com.example.{kind}
#       source: /sites/${safeGatewayId(opts.gatewayId)}/{deviceid}
#     sink:
#       url: https://ingest.example.com/events
#       mode: batch
#       token: \${INGEST_TOKEN}              # from the environment (README "Secrets")
`
}
