/// `GET /v1/dashboard` on the local API: the dashboard's URL with its
/// token, for `teabag dashboard`. The socket is the user's alone (0600),
/// so only the user learns the token.
import Hummingbird
import TeaBagCore
import TeaBagServerKit

struct DashboardLink {
    let dashboard: DashboardServer?

    func register(on router: Router<ServerContext>) {
        router.get("/v1/dashboard") { _, _ in
            guard let dashboard else {
                throw APIError(.agentNoDashboard, "this agent runs no dashboard (agent.dashboard_port is -1)")
            }
            guard let url = dashboard.url, let port = dashboard.address.current?.port else {
                throw APIError(.agentDashboardStarting, "the dashboard is not listening yet; try again in a moment")
            }
            return Response.json(["url": .string(url), "port": .number(Double(port))])
        }
    }
}
