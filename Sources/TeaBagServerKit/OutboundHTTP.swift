/// The HTTP client of server-to-server calls (a store asking the table, the
/// table asking a store, the admin commands): a peer that is down must be an
/// error within seconds, not a request parked until its deadline, which is
/// what AsyncHTTPClient's default (retrying connection establishment) does.
import AsyncHTTPClient
import NIOCore

public enum OutboundHTTP {
    /// One process-wide client; like `HTTPClient.shared`, never shut down.
    public static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .seconds(3)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()
}
