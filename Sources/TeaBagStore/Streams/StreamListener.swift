/// One SSE listener: a connection on an event loop that receives a user's
/// frames. Everything here runs on that loop.
import NIOCore

/// Where a listener's bytes go: its connection. Called on its loop only.
protocol StreamSink: AnyObject {
    /// Writes and flushes; the sink cuts off a client that stopped reading.
    func send(_ buffers: [ByteBuffer])
    /// Ends the response (shutdown, a backlog overflow, a failed history read).
    func finish()
}

final class StreamListener: @unchecked Sendable {
    // Unsafe 4: every var is touched on `loop` only (the hub hops there
    // before calling in), so the class is Sendable by confinement.
    let id: UInt64
    let user: Int64
    let loop: any EventLoop
    // Strong: the sink holds its connection weakly, so nothing cycles.
    let sink: (any StreamSink)?

    private enum Phase {
        /// History is being sent; live frames wait here.
        case resuming(waiting: [StreamFrame])
        case live
    }

    private var phase: Phase
    private var lastSent: Int64
    private var ended = false

    /// Live frames held while history is sent, at most.
    static let resumeBacklog = 10_000

    init(id: UInt64, user: Int64, loop: any EventLoop, sink: any StreamSink, resumeAfter: Int64?) {
        self.id = id
        self.user = user
        self.loop = loop
        self.sink = sink
        phase = resumeAfter == nil ? .live : .resuming(waiting: [])
        lastSent = resumeAfter ?? 0
    }

    /// Live frames, in id order.
    func deliver(_ frames: [StreamFrame]) {
        guard !ended else { return }
        switch phase {
        case .resuming(var waiting):
            waiting.append(contentsOf: frames)
            if waiting.count > Self.resumeBacklog {
                end()
                return
            }
            phase = .resuming(waiting: waiting)
        case .live:
            send(frames)
        }
    }

    /// A page of history, in id order.
    func history(_ frames: [StreamFrame]) {
        guard !ended else { return }
        send(frames)
    }

    /// History is all sent: the waiting live frames follow, then live ones.
    func goLive() {
        guard !ended, case .resuming(let waiting) = phase else { return }
        phase = .live
        send(waiting)
    }

    /// `event: resync`, when the plan came from the database after the opening.
    func resync() {
        guard !ended else { return }
        sink?.send([StreamFrame.resync])
    }

    func keepAlive() {
        guard !ended else { return }
        sink?.send([StreamFrame.keepAlive])
    }

    func end() {
        guard !ended else { return }
        ended = true
        sink?.finish()
    }

    private func send(_ frames: [StreamFrame]) {
        var buffers: [ByteBuffer] = []
        buffers.reserveCapacity(frames.count)
        for frame in frames where frame.id > lastSent {
            buffers.append(frame.sse)
            lastSent = frame.id
        }
        if !buffers.isEmpty { sink?.send(buffers) }
    }
}
