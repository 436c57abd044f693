//! The guest agent's APIs (qemu-ga behind a virtio-serial channel named
//! org.qemu.guest_agent.0), with libvirt 9.0's checks and errors:
//! qemuDomainAgentAvailable's "not configured" (no such channel),
//! "not connected" (a channel, no agent on it) and "domain is not
//! running".

use oxvirt_core::error::code;
use oxvirt_core::types::{DomainRef, DomainState, FsInfo, TypedParam};
use oxvirt_core::{Error, Result};
use oxvirt_xml::domain::Domain;

use crate::driver::{check_flags, Driver};
use crate::FROM;

/// The agent's channel name.
pub(crate) const AGENT_CHANNEL: &str = "org.qemu.guest_agent.0";

/// qemuFindAgentConfig: the definition has the agent's virtio channel.
pub(crate) fn agent_configured(def: &Domain) -> bool {
    def.devices
        .chardevs
        .channels
        .iter()
        .any(|c| c.target_type == "virtio" && c.name.as_deref() == Some(AGENT_CHANNEL))
}

/// virDomainShutdownFlagValues / virDomainRebootFlagValues
pub(crate) const MODE_ACPI: u32 = 1;
pub(crate) const MODE_AGENT: u32 = 2;

/// A connected agent. The daemon does not connect to agents yet, so
/// there is none: every API ends at qemuDomainAgentAvailable's error.
pub(crate) enum Agent {}

/// VIR_DOMAIN_AGENT_RESPONSE_TIMEOUT_BLOCK
const TIMEOUT_BLOCK: i32 = -2;

/// Sets a virtio channel's port state in its `<target state=...>`.
fn set_port_state(c: &mut oxvirt_xml::domain::devices::chardev::Chardev, state: &str) {
    use oxvirt_xml::dom::{Element, Node};
    if c.el.child("target").is_none() {
        c.el.children.push(Node::Element(Element::new("target")));
    }
    for n in c.el.children.iter_mut() {
        if let Node::Element(t) = n {
            if t.name == "target" {
                t.set_attr("state", state);
            }
        }
    }
}

/// What a start adds to the channels of the live definition
/// (qemuDomainPrepareChannel, qemuProcessPrepareDomain): a unix channel
/// without a path gets the socket QEMU serves (`RUN/NAME-TARGET`, as the
/// command line names it) in bind mode, and virtio ports start
/// disconnected.
pub(crate) fn setup_channels(live: &mut Domain, run_dir: &std::path::Path) {
    let name = live.name.clone();
    for (i, c) in live.devices.chardevs.channels.iter_mut().enumerate() {
        if c.source.stype == "unix" && c.source.path.is_none() {
            let target = c.name.clone().unwrap_or_else(|| format!("channel{}", i));
            c.source.path = Some(format!("{}/{}-{}", run_dir.display(), name, target));
            c.source.bind = true;
        }
        if c.target_type == "virtio" {
            set_port_state(c, "disconnected");
        }
    }
}

/// VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_* and its reason
/// VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_REASON_CHANNEL.
const AGENT_CONNECTED: i32 = 1;
const AGENT_DISCONNECTED: i32 = 2;
const REASON_CHANNEL: i32 = 2;

impl Driver {
    /// QEMU's VSERPORT_CHANGE (qemuProcessHandleSerialChanged): the
    /// guest opened or closed a virtio port; the port's state follows,
    /// and for the agent's channel the agent-lifecycle event is sent.
    pub(crate) fn on_vserport_change(
        &self,
        uuid: &oxvirt_core::types::Uuid,
        run: &crate::driver::Running,
        data: &serde_json::Value,
    ) {
        let (Some(id), Some(open)) = (
            data.get("id").and_then(serde_json::Value::as_str),
            data.get("open").and_then(serde_json::Value::as_bool),
        ) else {
            return;
        };
        let ev = {
            let mut st = self.lock();
            let Some(mut o) = st.by_uuid_mut(uuid) else {
                return;
            };
            if o.run.as_ref().map(|r| r.gen) != Some(run.gen) {
                return;
            }
            let Some(c) = o
                .def
                .devices
                .chardevs
                .channels
                .iter_mut()
                .enumerate()
                .find(|(i, c)| {
                    let alias =
                        c.el.child("alias")
                            .and_then(|a| a.attr("name"))
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("channel{}", i));
                    alias == id && c.target_type == "virtio"
                })
                .map(|(_, c)| c)
            else {
                return;
            };
            set_port_state(c, if open { "connected" } else { "disconnected" });
            let agent = c.name.as_deref() == Some(AGENT_CHANNEL);
            self.save_status(&o);
            agent.then(|| oxvirt_core::event::DomainEvent {
                dom: o.handle(),
                kind: oxvirt_core::event::DomainEventKind::AgentLifecycle {
                    state: if open {
                        AGENT_CONNECTED
                    } else {
                        AGENT_DISCONNECTED
                    },
                    reason: REASON_CHANNEL,
                },
            })
        };
        if let Some(e) = ev {
            self.emit(vec![e]);
        }
    }

    /// qemuDomainAgentAvailable with `report`: the domain must be
    /// running and its agent connected. No agent connection is made
    /// yet, so this always fails with the error libvirt gives when
    /// none is there.
    fn agent_available(&self, dom: &DomainRef) -> Result<Agent> {
        let st = self.read(dom)?;
        let obj = st.dom(dom)?;
        if obj.state != DomainState::Running {
            return Err(Error::operation_invalid(FROM, "domain is not running"));
        }
        if agent_configured(&obj.def) {
            return Err(Error::new(
                code::AGENT_UNRESPONSIVE,
                FROM,
                "QEMU guest agent is not connected",
            ));
        }
        Err(Error::argument_unsupported(
            FROM,
            "QEMU guest agent is not configured",
        ))
    }

    /// virDomainObjCheckActive, then the agent.
    fn active_agent(&self, dom: &DomainRef) -> Result<Agent> {
        self.read(dom)?.dom(dom)?.check_active()?;
        self.agent_available(dom)
    }

    /// True when the domain has an agent to shut down or reboot through
    /// (`!flags && priv->agent`).
    pub(crate) fn agent_connected(&self, _dom: &DomainRef) -> bool {
        false
    }

    /// The agent's part of shutdown and reboot with
    /// VIR_DOMAIN_{SHUTDOWN,REBOOT}_GUEST_AGENT (qemuDomainShutdownFlagsAgent
    /// and qemuDomainRebootAgent): `Ok(true)` when the agent did it,
    /// `Ok(false)` when the caller goes on with ACPI, errors when only
    /// the agent was asked for.
    pub(crate) fn shutdown_agent(&self, dom: &DomainRef, reboot: bool, flags: u32) -> Result<bool> {
        let forced = flags & MODE_AGENT != 0 && flags & MODE_ACPI == 0;
        let res = if reboot {
            self.agent_available(dom).and_then(|a| {
                self.read(dom)?.dom(dom)?.check_active()?;
                Ok(a)
            })
        } else {
            let st = self.read(dom)?;
            if st.dom(dom)?.state != DomainState::Running {
                Err(Error::operation_invalid(FROM, "domain is not running"))
            } else {
                drop(st);
                self.agent_available(dom)
            }
        };
        match res {
            Ok(a) => match a {},
            Err(e) if forced => Err(e),
            Err(_) => Ok(false),
        }
    }

    pub(crate) fn get_time(&self, dom: &DomainRef, flags: u32) -> Result<(i64, u32)> {
        check_flags(flags, 0, "qemuDomainGetTime")?;
        match self.active_agent(dom)? {}
    }

    pub(crate) fn set_time(&self, dom: &DomainRef, _s: i64, _ns: u32, flags: u32) -> Result<()> {
        check_flags(flags, 1, "qemuDomainSetTime")?;
        match self.active_agent(dom)? {}
    }

    pub(crate) fn set_user_password(
        &self,
        dom: &DomainRef,
        _user: &str,
        _password: &str,
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, 1, "qemuDomainSetUserPassword")?;
        match self.active_agent(dom)? {}
    }

    pub(crate) fn fs_freeze(&self, dom: &DomainRef, _mounts: &[String], flags: u32) -> Result<i32> {
        check_flags(flags, 0, "qemuDomainFSFreeze")?;
        match self.active_agent(dom)? {}
    }

    pub(crate) fn fs_thaw(&self, dom: &DomainRef, mounts: &[String], flags: u32) -> Result<i32> {
        check_flags(flags, 0, "qemuDomainFSThaw")?;
        if !mounts.is_empty() {
            return Err(Error::argument_unsupported(
                FROM,
                "specifying mountpoints is not supported",
            ));
        }
        match self.active_agent(dom)? {}
    }

    pub(crate) fn fs_trim(
        &self,
        dom: &DomainRef,
        mount: Option<&str>,
        _minimum: u64,
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, 0, "qemuDomainFSTrim")?;
        if mount.is_some() {
            return Err(Error::argument_unsupported(
                FROM,
                "Specifying mount point is not supported for now",
            ));
        }
        let a = self.agent_available(dom)?;
        self.read(dom)?.dom(dom)?.check_active()?;
        match a {}
    }

    pub(crate) fn fs_info(&self, dom: &DomainRef, flags: u32) -> Result<Vec<FsInfo>> {
        check_flags(flags, 0, "qemuDomainGetFSInfo")?;
        match self.active_agent(dom)? {}
    }

    pub(crate) fn guest_info(
        &self,
        dom: &DomainRef,
        _types: u32,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        check_flags(flags, 0, "qemuDomainGetGuestInfo")?;
        match self.agent_available(dom)? {}
    }

    pub(crate) fn guest_vcpus(&self, dom: &DomainRef, flags: u32) -> Result<Vec<TypedParam>> {
        check_flags(flags, 0, "qemuDomainGetGuestVcpus")?;
        match self.agent_available(dom)? {}
    }

    pub(crate) fn set_guest_vcpus(
        &self,
        dom: &DomainRef,
        _cpumap: &str,
        state: i32,
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, 0, "qemuDomainSetGuestVcpus")?;
        if !(0..=1).contains(&state) {
            return Err(Error::invalid_arg(FROM, "unsupported state value"));
        }
        match self.agent_available(dom)? {}
    }

    pub(crate) fn agent_command(
        &self,
        dom: &DomainRef,
        _cmd: &str,
        _timeout: i32,
        flags: u32,
    ) -> Result<String> {
        check_flags(flags, 0, "qemuDomainQemuAgentCommand")?;
        match self.active_agent(dom)? {}
    }

    pub(crate) fn agent_set_response_timeout(
        &self,
        dom: &DomainRef,
        timeout: i32,
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, 0, "qemuDomainAgentSetResponseTimeout")?;
        if timeout < TIMEOUT_BLOCK {
            return Err(Error::invalid_arg(
                FROM,
                format!(
                    "guest agent timeout '{}' is less than the minimum '{}'",
                    timeout, TIMEOUT_BLOCK
                ),
            ));
        }
        self.read(dom)?.dom(dom)?;
        Ok(())
    }

    /// virDomainInterfaceAddresses with VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT.
    pub(crate) fn agent_interface_addresses(
        &self,
        dom: &DomainRef,
    ) -> Result<Vec<oxvirt_core::types::GuestInterface>> {
        match self.agent_available(dom)? {}
    }
}
