/// A disk that fills up, for real: store 2 and agent 2 keep their data on
/// small tmpfs mounts, which a filler file fills to the last byte under
/// load. Writes that find no room are refused with a clear error, nothing
/// acknowledged is lost, and everything recovers once the space returns.
import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

extension FaultScenarios {
    @Test func aFullDiskRefusesWritesClearlyLosesNothingAndRecovers() async throws {
        try await Scenario.run("disk-full", "the disks of a store and an agent full (tmpfs) for 3 s under load, then space again") { run in
            let root = try temporaryDirectory("disk")
            defer { try? FileManager.default.removeItem(atPath: root) }
            let storeDisk = try SmallDisk.mount(at: root + "/store", megabytes: 24)
            defer { storeDisk.unmount() }
            let agentDisk = try SmallDisk.mount(at: root + "/agent", megabytes: 24)
            defer { agentDisk.unmount() }
            let options = ClusterOptions(storeData: [2: storeDisk.path + "/data"], agentData: [2: agentDisk.path + "/data"])
            return try await withCluster(options) { cluster in
                let history = History()
                let workload = cluster.startWorkload(history: history, tag: "r\(run)")
                try await pause(1_500)
                storeDisk.fill()
                agentDisk.fill()
                // SQLite goes on writing into the room its WAL file already
                // has, so the first refusals take a few writes: big ones.
                var stored: HTTPAnswer?
                var agentRefusal: String?
                var attempt = 0
                let deadline = ContinuousClock.now + .seconds(30)
                while ContinuousClock.now < deadline && (stored?.status != 503 || agentRefusal == nil) {
                    if stored?.status != 503 {
                        let big = String(repeating: "x", count: 2 << 20)
                        stored = try await cluster.storeClient(2).push("blob", "/big", payloadOp(nowMs(), "big-\(run)-\(attempt)", .string(big)))
                    }
                    if agentRefusal == nil {
                        let token = "r\(run)-big\(attempt)-" + String(repeating: "y", count: 128 << 10)
                        if await workload.push(agent: 2, PathRef(type: "log", path: "/log/big"), .string(token), .token(token)) == .refused {
                            agentRefusal = history.details(.refused).last
                        }
                    }
                    attempt += 1
                    try await pause(300)
                }
                #expect(stored?.status == 503 && stored?.errorName == "StoreError:DiskFull",
                        "store: \(stored?.status ?? 0) \(stored?.text.prefix(300) ?? "")")
                #expect(agentRefusal == "ClientError:Storage", "agent: \(agentRefusal ?? "no refusal")")
                try await pause(1_500)
                storeDisk.free()
                agentDisk.free()
                try await pause(1_500)
                return await Scenario.check(cluster, workload, history, notes: [
                    "full disk: the store answers \(stored?.status ?? 0) \(stored?.errorName ?? "?"), the agent refuses with \(agentRefusal ?? "nothing")",
                ])
            }
        }
    }
}
