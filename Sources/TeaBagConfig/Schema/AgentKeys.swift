/// The `agent` section: `teabag agent` (`AgentConfiguration`).
extension ConfigSchema {
    static let agent = ConfigSection("agent", title: "Agent", introduction: """
        Read by `teabag agent` (`Sources/TeaBagAgent/AgentConfiguration.swift`);
        `teabag get|push|watch|status` read `agent.socket` and `agent.data` to find
        the agent when `--agent` is not given. [agent.md](agent.md) says what each
        does at run time. Secrets (`session_token`, `master`) are never logged.
        """, keys: [
        .init("agent.table_url", .string, default: .string(""), environment: ["TEABAG_AGENT_TABLE_URL"], flag: "--table-url",
              "the table's public base, http(s)://…/ (required)"),
        .init("agent.user", .int, default: .int(0), environment: ["TEABAG_AGENT_USER"], flag: "--user", "the user id (required, > 0)"),
        .init("agent.session_token", .string, default: .null, environment: ["TEABAG_AGENT_SESSION_TOKEN"], flag: "--session-token",
              "a session from `teabag admin new-session`"),
        .init("agent.master", .string, default: .null, environment: ["TEABAG_AGENT_MASTER"], flag: "--master",
              "or the master: the agent opens its own session (one of the two is required)"),
        .init("agent.channels", .stringList, default: .list([]), flag: "--channel",
              "channels to follow; empty: every channel of the mount table",
              details: "the channels to follow; empty follows every channel of the mount table. `--channel C` is repeatable and replaces the list"),
        .init("agent.data", .string, default: .string("data/agent"), environment: ["TEABAG_AGENT_DATA"], flag: "--data",
              "outbox, oplog cache, node identity (agent.sqlite)",
              details: "`agent.sqlite` (node identity, outbox, oplog cache); created 0700"),
        .init("agent.socket", .string, default: .null, environment: ["TEABAG_AGENT_SOCKET"], flag: "--socket",
              "local API socket, mode 0600; unset: <data>/agent.sock",
              details: "the local API's socket; unset: `<data>/agent.sock`. Mode 0600, at most 103 bytes"),
        .init("agent.host", .string, default: .string("127.0.0.1"), flag: "--host", "address of the optional TCP listener"),
        .init("agent.port", .int, default: .int(-1), flag: "--port", "TCP port of the local API; -1: none, 0: a free one"),
        .init("agent.dashboard_port", .int, default: .int(0),
              "the live dashboard on 127.0.0.1 (token required; `teabag dashboard` prints its URL); 0: a free port, -1: none",
              details: "the live dashboard's port, always on 127.0.0.1 with a token ([dashboard.md](dashboard.md)); `0` any free port, `-1` none"),
        .init("agent.durability", .string, default: .string("normal"), choices: ["full", "normal"],
              "normal: a push survives the agent's crash; full: also a power cut (fsync per push)"),
        .init("agent.table_refresh", .duration, default: .string("60s"), "how often the mount table is read again (>= 100ms)"),
        .init("agent.idle_timeout", .duration, default: .string("75s"),
              "a local API connection that delivers no complete request head or body part for this long is closed",
              details: "at least 100ms: a local API connection (socket or TCP) that delivers no complete request head or body part for this long is closed"),
        .init("agent.clock_offset_ms", .int, default: .int(0), flag: "--clock-offset-ms",
              "TEST-ONLY: moves the agent's clock by this many ms (the fault suite's clock skew); keep 0",
              details: "**Test-only** (its flag is hidden): milliseconds added to the machine's clock before the agent reads it, so that the fault suite ([reliability.md](reliability.md)) can give one agent a clock an hour off. The agent corrects its op dates by the stores' `Date` headers ([sync.md](sync.md#clock)); keep it 0"),
        .init("agent.log_level", .string, default: .string("info"), choices: ConfigSchema.logLevels, "the least severe log message written"),
    ])
}
