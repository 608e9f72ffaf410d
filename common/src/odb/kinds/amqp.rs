//! AMQP's tables, as upstream has them: connection definitions (`conn_def_amqp`), outgoing
//! connections (`out_amqp`) and channels (`channel_amqp`).
use super::{Default as D, Field, Kind, Ty};

pub static DEF: Kind = Kind {
    name: "amqp_def",
    label: "AMQP definition",
    table: "conn_def_amqp",
    services: "zato.definition.amqp",
    enmasse: "def_amqp",
    fields: &[
        Field::new("host", Ty::Str(200)).required(),
        Field::new("port", Ty::Int)
            .default(D::Int(5672))
            .range(1, 65535),
        Field::new("vhost", Ty::Str(200)).default(D::Str("/")),
        Field::new("username", Ty::Str(200)).required(),
        Field::new("password", Ty::Secret),
        Field::new("frame_max", Ty::Int)
            .default(D::Int(131_072))
            .range(4096, 2_147_483_647),
        Field::new("heartbeat", Ty::Int)
            .default(D::Int(30))
            .range(0, 65535),
    ],
};

pub static OUT: Kind = Kind {
    name: "amqp_out",
    label: "outgoing AMQP connection",
    table: "out_amqp",
    services: "zato.outgoing.amqp",
    enmasse: "outconn_amqp",
    fields: &[
        Field::new("is_active", Ty::Bool).default(D::Bool(true)),
        Field::new("def_id", Ty::Ref(&DEF)).required(),
        Field::new("delivery_mode", Ty::Int)
            .default(D::Int(2))
            .range(1, 2),
        Field::new("priority", Ty::Int)
            .default(D::Int(5))
            .range(0, 9),
        Field::new("content_type", Ty::Str(200)),
        Field::new("content_encoding", Ty::Str(200)),
        Field::new("expiration", Ty::Int).range(0, 2_147_483_647),
        Field::new("user_id", Ty::Str(200)),
        Field::new("app_id", Ty::Str(200)),
        Field::new("pool_size", Ty::Int)
            .default(D::Int(1))
            .range(1, 100),
    ],
};

pub static CHANNEL: Kind = Kind {
    name: "amqp_channel",
    label: "AMQP channel",
    table: "channel_amqp",
    services: "zato.channel.amqp",
    enmasse: "channel_amqp",
    fields: &[
        Field::new("is_active", Ty::Bool).default(D::Bool(true)),
        Field::new("def_id", Ty::Ref(&DEF)).required(),
        Field::new("queue", Ty::Str(200)).required(),
        Field::new("consumer_tag_prefix", Ty::Str(200)).default(D::Str("zato")),
        Field::new("service_id", Ty::Service).required(),
        Field::new("pool_size", Ty::Int)
            .default(D::Int(1))
            .range(1, 100),
        Field::new("ack_mode", Ty::Str(20))
            .default(D::Str("ack"))
            .one_of(&["ack", "reject"]),
        Field::new("prefetch_count", Ty::Int)
            .default(D::Int(10))
            .range(0, 65535),
        Field::new("data_format", Ty::Str(20)).one_of(&["", "json", "xml", "csv", "dict"]),
        // Beyond upstream: how often a message whose service raised is tried before it is
        // dead-lettered, and whether every server process consumes or one per `pool_size`.
        Field::new("max_deliveries", Ty::Int)
            .default(D::Int(5))
            .range(1, 1000),
        Field::new("consumers_on", Ty::Str(20))
            .default(D::Str("each-server"))
            .one_of(&["each-server", "each-process"]),
    ],
};
