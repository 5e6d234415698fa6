import TeaBagTestSupport

/// The shape of one run, drawn from its seed: how many of everything, how
/// faulty, and each client's clock and cache.
struct Scenario: CustomStringConvertible {
    struct ClientSetup {
        var skew: Int64
        var clock: ClockMode
        var cachesOplogs: Bool
    }

    var stores: Int
    var paths: Int
    var clients: [ClientSetup]
    var writes: Int
    var reads: Int
    var badRate: Double
    var pruneMinOps: Int
    var retention: Int
    var network: NetworkFaults
    var storeCrashes: Int
    var clientCrashes: Int
    /// Chance that a stream connection breaks some time after it came up.
    var breakRate: Double

    /// Writes and reads happen in the first 30 s, faults until 40 s; then
    /// the network heals and the run goes on until everything is quiet.
    static let workWindow: Int64 = 30_000
    static let healAt: Int64 = 40_000

    static func random(_ rng: inout SplitMix64) -> Scenario {
        let stores = rng.int(2...3)
        let clients = (0..<rng.int(2...3)).map { _ in
            let skew = rng.chance(0.3) ? rng.ms(-3_600_000...3_600_000) : rng.ms(-60_000...60_000)
            let clock: ClockMode = switch rng.int(0...2) {
            case 0: .corrected(residual: rng.ms(-2_000...2_000))
            case 1: .learning
            default: .uncorrected
            }
            return ClientSetup(skew: skew, clock: clock, cachesOplogs: rng.chance(0.5))
        }
        let stormy = rng.chance(0.5)
        return Scenario(
            stores: stores,
            paths: rng.int(1...3),
            clients: clients,
            writes: rng.int(20...60),
            reads: rng.int(0...6),
            badRate: rng.pick([0, 0.05, 0.15]),
            pruneMinOps: rng.int(2...5),
            retention: rng.int(3...24),
            network: stormy ? NetworkFaults(drop: 0.08, duplicate: 0.08, slow: 0.1) : NetworkFaults(drop: 0.01, duplicate: 0.02, slow: 0.03),
            storeCrashes: rng.int(0...(stormy ? 4 : 1)),
            clientCrashes: rng.int(0...(stormy ? 4 : 1)),
            breakRate: stormy ? 0.3 : 0.05)
    }

    var description: String {
        let setups = clients.enumerated().map { index, setup in
            "c\(index): skew \(setup.skew) ms, \(setup.clock), \(setup.cachesOplogs ? "oplog cache" : "outbox only")"
        }
        return "\(stores) stores, \(paths) paths, \(writes) writes (bad rate \(badRate)), prune.min_ops \(pruneMinOps), "
            + "stream retention \(retention), drop \(network.drop), duplicate \(network.duplicate), slow \(network.slow), "
            + "\(storeCrashes) store crashes, \(clientCrashes) client crashes, break rate \(breakRate)\n  "
            + setups.joined(separator: "\n  ")
    }
}
