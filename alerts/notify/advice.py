"""What to do, per alert kind: one short, concrete action for the farmer (zh, en).

Kept here rather than in each crop profile: the action for "too hot" is the
same for tomato and cucumber (vent first); crops differ in the numbers, which
the profiles own.
"""

from __future__ import annotations

from qingyubiao.alerting import Kind

ADVICE: dict[str, tuple[str, str]] = {
    Kind.AIR_TEMP_HIGH: ("立即开风口通风。", "open the vents now."),
    Kind.AIR_TEMP_LOW: (
        "放下保温被、关闭风口，必要时临时加温。",
        "lower the thermal quilt, close vents, heat if needed.",
    ),
    Kind.FROST: ("启动防霜措施：熏烟、喷水或开风机。", "start frost protection: smudge, sprinkle or run fans."),
    Kind.HUMIDITY_HIGH: ("中午开风口排湿，减少浇水，防灰霉病。", "vent at noon and water less, against grey mould."),
    Kind.HUMIDITY_LOW: ("适当喷雾或浇水增湿。", "mist or water to raise the humidity."),
    Kind.SOIL_DRY: ("尽快浇水（滴灌）。", "irrigate soon (drip)."),
    Kind.SOIL_WET: ("暂停浇水，检查排水。", "stop irrigating and check drainage."),
    Kind.VPD_HIGH: ("空气太干：遮阳、喷雾，减少通风。", "air too dry: shade, mist, vent less."),
    Kind.VPD_LOW: ("空气太湿：通风排湿。", "air too humid: vent to dry it."),
    Kind.CONDENSATION: ("早晨先小开风口排湿，防叶面结露。", "crack the vents early to keep leaves dry."),
    Kind.TEMP_MEAN_HIGH: ("日均温偏高，注意通风降温，影响坐果。", "daily mean too warm for fruit set: vent and cool."),
    Kind.PEER_DEVIATION: (
        "与邻棚差别大，检查风口、保温被和传感器。",
        "differs from its neighbours: check vents, quilt, sensor.",
    ),
    Kind.STALE: ("检查传感器供电和网络。", "check the sensor's power and network."),
    Kind.DEVICE_OFFLINE: ("检查设备供电和网络。", "check the device's power and network."),
    Kind.SENSOR_FAULT: ("检查或更换传感器。", "check or replace the sensor."),
    Kind.STORE_FAILING: ("检查服务器磁盘空间和数据库文件。", "check free disk space and the database file."),
    Kind.BROKER_UNREACHABLE: ("检查消息代理服务、网络和证书。", "check the broker, the network, the certificate."),
    # the models' own advice is in their alert text (agronomy/params/models.toml); this is the fallback
    Kind.DISEASE_RISK: ("按植保建议及时喷药预防。", "protect the crop as the plant-protection advice says."),
    Kind.PEST_RISK: ("检查诱捕器，按植保建议防治。", "check the traps and act on the plant-protection advice."),
    Kind.VALVE_FAULT: ("检查阀门控制器、电源和网络。", "check the valve controller, its power and the network."),
    Kind.IRRIGATION_DUE: ("按建议的时长滴灌。", "run the drip for the advised time."),
}


def advice(kind: str) -> tuple[str, str]:
    return ADVICE.get(kind, ("请到棚里查看。", "please go and check."))
