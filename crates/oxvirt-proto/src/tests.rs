use crate::packet::*;
use crate::remote::*;
use crate::xdr::*;

fn roundtrip<T: Xdr + PartialEq + std::fmt::Debug>(v: &T) -> Vec<u8> {
    let b = to_bytes(v);
    let back: T = from_bytes(&b).expect("decodes");
    assert_eq!(&back, v);
    b
}

#[test]
fn primitives_are_big_endian_and_padded() {
    assert_eq!(to_bytes(&7u32), [0, 0, 0, 7]);
    assert_eq!(to_bytes(&-1i32), [0xff; 4]);
    assert_eq!(to_bytes(&0x0102030405060708u64), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(
        to_bytes(&"abcde".to_string()),
        [0, 0, 0, 5, b'a', b'b', b'c', b'd', b'e', 0, 0, 0]
    );
    assert_eq!(to_bytes(&None::<String>), [0, 0, 0, 0]);
    assert_eq!(
        to_bytes(&Some("x".to_string())),
        [0, 0, 0, 1, 0, 0, 0, 1, b'x', 0, 0, 0]
    );
    roundtrip(&1.5f64);
    roundtrip(&-5i64);
}

#[test]
fn domain_handle_layout() {
    let d = NonnullDomain {
        name: "test".into(),
        uuid: [0x66; 16],
        id: 1,
    };
    let b = roundtrip(&d);
    assert_eq!(b.len(), 4 + 4 + 16 + 4);
    assert_eq!(&b[0..8], &[0, 0, 0, 4, b't', b'e', b's', b't']);
    assert_eq!(&b[24..28], &[0, 0, 0, 1]);
}

#[test]
fn fixed_replies_have_libvirts_sizes() {
    let info = DomainGetInfoRet {
        state: 1,
        max_mem: 8388608,
        memory: 2097152,
        nr_virt_cpu: 2,
        cpu_time: 5,
    };
    assert_eq!(roundtrip(&info).len(), 32);
    let node = NodeGetInfoRet {
        model: FixedChars::from_str_truncated("i686"),
        memory: 3145728,
        cpus: 16,
        mhz: 1400,
        nodes: 2,
        sockets: 2,
        cores: 2,
        threads: 2,
    };
    let b = roundtrip(&node);
    assert_eq!(b.len(), 160);
    assert_eq!(&b[0..8], &[0, 0, 0, b'i', 0, 0, 0, b'6']);
    assert_eq!(node.model.to_text(), "i686");
}

#[test]
fn char_arrays_take_a_word_per_char_and_keep_the_nul() {
    let r = NodeGetSecurityModelRet {
        model: CharArray::c_string("ab"),
        doi: CharArray::c_string(""),
    };
    let b = roundtrip(&r);
    assert_eq!(
        b,
        [0, 0, 0, 3, 0, 0, 0, b'a', 0, 0, 0, b'b', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    );
    assert_eq!(r.model.to_text(), "ab");
}

#[test]
fn typed_params_roundtrip() {
    let p = TypedParamsRet {
        params: vec![
            TypedParam {
                field: "state.state".into(),
                value: TypedParamValue::Int(1),
            },
            TypedParam {
                field: "s".into(),
                value: TypedParamValue::String("v".into()),
            },
            TypedParam {
                field: "d".into(),
                value: TypedParamValue::Double(0.5),
            },
        ],
    };
    let b = roundtrip(&p);
    // count, "state.state" (4 + 11 + 1 pad), type 1, value 1
    assert_eq!(&b[0..4], &[0, 0, 0, 3]);
    assert_eq!(&b[20..28], &[0, 0, 0, 1, 0, 0, 0, 1]);
}

#[test]
fn error_roundtrip() {
    let e = RemoteError {
        code: 42,
        domain: 12,
        message: Some("Domain not found".into()),
        level: 2,
        str1: Some("Domain not found: %s".into()),
        int1: -1,
        int2: -1,
        ..Default::default()
    };
    roundtrip(&e);
}

#[test]
fn truncated_input_is_an_error() {
    let d = NonnullDomain {
        name: "test".into(),
        uuid: [1; 16],
        id: 3,
    };
    let b = to_bytes(&d);
    for n in 0..b.len() {
        assert!(from_bytes::<NonnullDomain>(&b[..n]).is_err(), "prefix {n}");
    }
}

#[test]
fn hostile_lengths_are_rejected_without_allocating() {
    // a string claiming 4 GiB
    assert!(matches!(
        from_bytes::<String>(&[0xff, 0xff, 0xff, 0xff]),
        Err(XdrError::TooLong { .. })
    ));
    // a string just over STRING_MAX
    let n = (STRING_MAX as u32 + 1).to_be_bytes();
    assert!(matches!(
        from_bytes::<String>(&n),
        Err(XdrError::TooLong { .. })
    ));
    // an array within the maximum but longer than the input
    let b = [0, 0, 0x40, 0, 0, 0, 0, 0];
    assert!(matches!(
        from_bytes::<ListAllDomainsRet>(&b),
        Err(XdrError::Truncated { .. })
    ));
    // an array over its maximum
    let b = [0, 0, 0x40, 1];
    assert!(matches!(
        from_bytes::<ListAllDomainsRet>(&b),
        Err(XdrError::TooLong { .. })
    ));
    // auth list maximum is 20
    let mut b = vec![0, 0, 0, 21];
    b.extend(std::iter::repeat_n(0u8, 84));
    assert!(from_bytes::<AuthListRet>(&b).is_err());
}

#[test]
fn optional_presence_is_any_non_zero_word() {
    // As xdr_pointer reads it (xdr_bool): go-libvirt's CONNECT_OPEN sends
    // 01 00 00 00 for "present".
    assert_eq!(
        from_bytes::<Option<u32>>(&[1, 0, 0, 0, 0, 0, 0, 7]).unwrap(),
        Some(7)
    );
    assert_eq!(
        from_bytes::<Option<u32>>(&[0, 0, 0, 2, 0, 0, 0, 0]).unwrap(),
        Some(0)
    );
    assert_eq!(from_bytes::<Option<u32>>(&[0, 0, 0, 0]).unwrap(), None);
    let mut e = Encoder::new();
    e.put_u32(0x0100_0000);
    e.put_str("test:///default");
    e.put_u32(0);
    let a = from_bytes::<ConnectOpenArgs>(&e.into_bytes()).unwrap();
    assert_eq!(a.name.as_deref(), Some("test:///default"));
}

#[test]
fn bad_discriminants_are_rejected() {
    let mut e = Encoder::new();
    e.put_str("f");
    e.put_i32(9);
    e.put_i32(0);
    assert!(from_bytes::<TypedParam>(&e.into_bytes()).is_err());
}

#[test]
fn invalid_utf8_is_rejected() {
    assert_eq!(
        from_bytes::<String>(&[0, 0, 0, 1, 0xff, 0, 0, 0]),
        Err(XdrError::InvalidUtf8)
    );
}

#[test]
fn every_prefix_of_every_reply_fails_cleanly() {
    // Garbage and truncation must never panic.
    let mut seed = 0x1234_5678u32;
    for len in 0..200 {
        let mut b = Vec::with_capacity(len);
        for _ in 0..len {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            b.push((seed >> 16) as u8);
        }
        let _ = from_bytes::<RemoteError>(&b);
        let _ = from_bytes::<ConnectGetAllDomainStatsArgs>(&b);
        let _ = from_bytes::<DomainSetParamsArgs>(&b);
        let _ = from_bytes::<NodeGetSecurityModelRet>(&b);
        let _ = from_bytes::<DomainInterfaceAddressesRet>(&b);
        let _ = split(&b);
    }
}

#[test]
fn frames() {
    let h = Header {
        prog: REMOTE_PROGRAM,
        vers: 1,
        proc_: 66,
        mtype: MsgType::Call,
        serial: 0,
        status: Status::Ok,
    };
    let f = frame(&h, &()).expect("frame");
    assert_eq!(f.len(), 28);
    assert_eq!(&f[0..4], &[0, 0, 0, 28]);
    let body_n = body_len([f[0], f[1], f[2], f[3]]).expect("len");
    assert_eq!(body_n, 24);
    let (h2, payload) = split(&f[4..]).expect("split");
    assert_eq!(h2, h);
    assert!(payload.is_empty());
    assert_eq!(keepalive(KEEPALIVE_PING).len(), 28);
}

#[test]
fn bad_frames() {
    assert!(body_len([0, 0, 0, 27]).is_err());
    assert!(body_len([0xff, 0xff, 0xff, 0xff]).is_err());
    assert!(body_len((MESSAGE_MAX as u32 + 4).to_be_bytes()).is_ok());
    assert!(body_len((MESSAGE_MAX as u32 + 5).to_be_bytes()).is_err());
    let mut body = vec![0u8; 24];
    body[15] = 9; // type 9
    assert_eq!(split(&body), Err(FrameError::BadType(9)));
    body[15] = 0;
    body[23] = 7; // status 7
    assert_eq!(split(&body), Err(FrameError::BadStatus(7)));
    assert!(split(&body[..10]).is_err());
    let h = Header {
        prog: REMOTE_PROGRAM,
        vers: 1,
        proc_: 1,
        mtype: MsgType::Reply,
        serial: 0,
        status: Status::Ok,
    };
    assert!(frame_raw(&h, &vec![0u8; PAYLOAD_MAX + 1]).is_err());
}

#[test]
fn api_names() {
    assert_eq!(crate::api_name(14).as_deref(), Some("virDomainGetXMLDesc"));
    assert_eq!(crate::api_name(22).as_deref(), Some("virDomainLookupByID"));
    assert_eq!(
        crate::api_name(273).as_deref(),
        Some("virConnectListAllDomains")
    );
    assert_eq!(crate::api_name(110).as_deref(), Some("virConnectGetURI"));
    assert_eq!(
        crate::api_name(oxvirt_iothread()).as_deref(),
        Some("virDomainGetIOThreadInfo")
    );
    assert_eq!(crate::api_name(0), None);
    assert_eq!(crate::api_name(444), None);
    assert_eq!(crate::proc_name(443), Some("DOMAIN_FD_ASSOCIATE"));
}

fn oxvirt_iothread() -> i32 {
    crate::procs::DOMAIN_GET_IOTHREAD_INFO
}

#[test]
fn guest_agent_layouts() {
    let d = NonnullDomain {
        name: "t".into(),
        uuid: [0; 16],
        id: 1,
    };
    // {dom, hyper pid_value, unsigned signum, unsigned flags}
    let b = roundtrip(&DomainSendProcessSignalArgs {
        dom: d.clone(),
        pid_value: -2,
        signum: 15,
        flags: 0,
    });
    assert_eq!(
        &b[28..36],
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]
    );
    assert_eq!(b.len(), 28 + 8 + 4 + 4);
    // Unlike the generic getters, GET_CPU_STATS puts nparams before
    // start_cpu.
    let b = roundtrip(&DomainGetCpuStatsArgs {
        dom: d.clone(),
        nparams: 2,
        start_cpu: -1,
        ncpus: 1,
        flags: 4,
    });
    assert_eq!(
        &b[28..40],
        &[0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1]
    );
    roundtrip(&DomainGetFsInfoRet {
        info: vec![DomainFsInfoWire {
            mountpoint: "/".into(),
            name: "vda1".into(),
            fstype: "ext4".into(),
            dev_aliases: vec!["vda".into()],
        }],
        ret: 1,
    });
    roundtrip(&DomainSetUserPasswordArgs {
        dom: d.clone(),
        user: Some("root".into()),
        password: None,
        flags: 1,
    });
    // One mount point over REMOTE_DOMAIN_FSFREEZE_MOUNTPOINTS_MAX.
    let mut e = Encoder::new();
    d.encode(&mut e);
    e.put_u32(257);
    for _ in 0..257 {
        e.put_str("/");
    }
    e.put_u32(0);
    assert!(matches!(
        from_bytes::<DomainFsFreezeArgs>(&e.into_bytes()),
        Err(XdrError::TooLong { .. })
    ));
}

#[test]
fn rows_name_their_procedures() {
    let mut seen = std::collections::HashSet::new();
    for row in crate::table::rows() {
        assert!(seen.insert(row.num), "{} twice", row.num);
        assert_eq!(crate::proc_name(row.num), Some(row.name), "{}", row.num);
    }
    assert!(seen.len() > 250, "{} rows", seen.len());
}

/// The table and oxvirt-core's API rows agree: a row's method serves its
/// API, and both say alike whether it writes.
#[test]
fn rows_agree_with_the_public_api() {
    // Entry points that are not APIs of a driver family.
    let not_family = [
        "virConnectAuthList",
        "virConnectOpen",
        "virConnectClose",
        "virDrvSupportsFeature",
        "virConnectGetURI",
        "virConnectRegisterCloseCallback",
        "virConnectUnregisterCloseCallback",
        "virConnectDomainEventRegister",
        "virConnectDomainEventDeregister",
        // Served by the method of their newer API with fixed flags; the
        // family tables have no entry point of their own for them yet.
        "virDomainSetMemory",
        "virDomainSetMaxMemory",
        "virDomainGetSchedulerParameters",
        "virStorageVolGetInfoFlags",
    ];
    let mut checked = 0;
    let mut bad = Vec::new();
    for row in crate::table::rows() {
        let Some(api) = oxvirt_core::api::lookup(row.api) else {
            if !not_family.contains(&row.api) {
                bad.push(format!("{}: no API {}", row.name, row.api));
            }
            continue;
        };
        if row.method.is_some_and(|m| m != api.method) {
            bad.push(format!(
                "{}: method {:?} for {}",
                row.name, row.method, api.method
            ));
        }
        if api.writes != row.writes {
            bad.push(format!(
                "{}: writes {} for {}",
                row.name, row.writes, api.writes
            ));
        }
        checked += 1;
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(checked > 250, "{checked}");
}

#[test]
fn legacy_list_bounds() {
    use crate::convert::Wire;
    use crate::kinds::*;
    let e = MaxDomainIds::from_core(-1)
        .and_then(Wire::into_core)
        .unwrap_err();
    assert_eq!(e.message, "maxids > REMOTE_DOMAIN_LIST_MAX");
    // Storage and secret lists leave a negative bound to the API's check.
    assert_eq!(
        MaxPoolNames::from_core(-1).and_then(Wire::into_core),
        Ok(-1)
    );
    let e = MaxSecretUuids::from_core(16385)
        .and_then(Wire::into_core)
        .unwrap_err();
    assert_eq!(e.message, "maxuuids > REMOTE_SECRET_LIST_MAX");
    assert_eq!(
        MaxNetworkNames::from_core(16384).and_then(Wire::into_core),
        Ok(16384)
    );
    let e = MaxDomainNames::from_param(16385, "virConnectListDefinedDomains").unwrap_err();
    assert_eq!(
        e.message,
        "too many remote strings: 16385 > 16384,in parameter 'names' for 'virConnectListDefinedDomains'"
    );
    let e = MaxDomainIds::from_param(16385, "virConnectListDomains").unwrap_err();
    assert_eq!(e.message, "Too many domains '16385' for limit '16384'");
}

#[test]
fn replies_over_their_bound_are_refused() {
    use crate::convert::Wire;
    let e = crate::kinds::Messages::from_core(vec![String::new(); 2049]).unwrap_err();
    assert_eq!(e.message, "Too many messages '2049' for limit '2048'");
}
