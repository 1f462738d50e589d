//! What a check sees: the snapshot plus facts derived from it once.

use crate::analysis::index::MeshIndex;
use crate::analysis::{MeshTrust, Route, route};
use crate::model::{Mesh, Side, Snapshot};
use crate::time::Timestamp;

/// One mesh with its indexes and derived trust facts.
pub struct MeshView<'a> {
    pub side: Side,
    pub mesh: &'a Mesh,
    pub index: MeshIndex<'a>,
    pub trust: MeshTrust,
}

impl<'a> MeshView<'a> {
    fn new(side: Side, mesh: &'a Mesh) -> MeshView<'a> {
        MeshView {
            side,
            mesh,
            index: MeshIndex::new(mesh),
            trust: MeshTrust::derive(mesh),
        }
    }
}

pub struct Context<'a> {
    pub snapshot: &'a Snapshot,
    pub client: MeshView<'a>,
    pub server: MeshView<'a>,
    pub routes: Vec<Route>,
}

impl<'a> Context<'a> {
    pub fn new(snapshot: &'a Snapshot) -> Context<'a> {
        let client = MeshView::new(Side::Client, &snapshot.client);
        let server = MeshView::new(Side::Server, &snapshot.server);
        let routes = route::discover(&client.index, &server.index, &snapshot.hosts);
        Context {
            snapshot,
            client,
            server,
            routes,
        }
    }

    pub fn at(&self) -> Timestamp {
        self.snapshot.at
    }

    /// Both meshes, client first.
    pub fn meshes(&self) -> [&MeshView<'a>; 2] {
        [&self.client, &self.server]
    }
}
