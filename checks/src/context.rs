//! What a check sees: the snapshot plus facts derived from it once.

use crate::analysis::{MeshTrust, Route, route};
use crate::model::{Mesh, Side, Snapshot};
use crate::time::Timestamp;

/// One mesh with its derived trust facts.
pub struct MeshView<'a> {
    pub side: Side,
    pub mesh: &'a Mesh,
    pub trust: MeshTrust,
}

pub struct Context<'a> {
    pub snapshot: &'a Snapshot,
    pub client: MeshView<'a>,
    pub server: MeshView<'a>,
    pub routes: Vec<Route>,
}

impl<'a> Context<'a> {
    pub fn new(snapshot: &'a Snapshot) -> Context<'a> {
        Context {
            snapshot,
            client: MeshView {
                side: Side::Client,
                mesh: &snapshot.client,
                trust: MeshTrust::derive(&snapshot.client),
            },
            server: MeshView {
                side: Side::Server,
                mesh: &snapshot.server,
                trust: MeshTrust::derive(&snapshot.server),
            },
            routes: route::discover(&snapshot.client, &snapshot.server, &snapshot.hosts),
        }
    }

    pub fn at(&self) -> Timestamp {
        self.snapshot.at
    }

    /// Both meshes, client first.
    pub fn meshes(&self) -> [&MeshView<'a>; 2] {
        [&self.client, &self.server]
    }

    /// The other mesh.
    pub fn peer_of(&self, side: Side) -> &MeshView<'a> {
        if side == Side::Client {
            &self.server
        } else {
            &self.client
        }
    }
}
