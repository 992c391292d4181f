#if canImport(Glibc)
import Glibc
#endif
import CivilTime
import Foundation
import Scheduler
import SiteDirectory
import Transport

/// The control socket's and the HTTP listener's views of the running bridge: media status,
/// live quality, and the floor.
extension BridgeServer {
    /// The control socket's `quality` command: every site of the meetings in progress.
    func qualityView(site siteID: String?) -> [String: Any] {
        let now = Timestamp(wallClock().seconds)
        let meetings = store.withLock { store -> [Meeting] in
            _ = try? store.refresh()
            return store.schedule.active(at: now)
        }
        var detail: Int? = nil
        if let siteID {
            guard let site = directory.site(siteID) else { return ["type": "error", "error": "unknown site '\(siteID)'"] }
            detail = site.index
        }
        var view = quality.view(meetings: meetings, detailFor: detail)
        view["type"] = "quality"
        return view
    }

    /// Gives a meeting's floor to a site (nil: back to the host). The site must be one of the meeting's.
    func giveFloor(meeting: MeetingID, site: Int?) {
        floors.withLock { $0[meeting] = site }
        mailbox.post(.floor(meeting: meeting, site: site))
        Log.info("floor", ["meeting": meeting, "site": site.map { directory.sites[$0].id } ?? "host"])
    }

    /// The control socket's `floor` command: by site (give it the floor of its current meeting) or by
    /// meeting (give the floor back to the host).
    func floorCommand(site siteID: String?, meeting meetingNumber: Int?) -> [String: Any] {
        let now = Timestamp(wallClock().seconds)
        let active = store.withLock { store -> [Meeting] in
            _ = try? store.refresh()
            return store.schedule.active(at: now)
        }
        if let siteID {
            guard let site = directory.site(siteID) else { return ["type": "error", "error": "unknown site '\(siteID)'"] }
            guard let meeting = active.first(where: { $0.sites.contains(site.index) }) else {
                return ["type": "error", "error": "site \(site.id) is in no meeting now"]
            }
            giveFloor(meeting: meeting.id, site: site.index == meeting.host ? nil : site.index)
            return ["type": "ok", "meeting": Int(meeting.id), "presenter": site.id]
        }
        if let meetingNumber {
            guard let meeting = active.first(where: { Int($0.id) == meetingNumber }) else {
                return ["type": "error", "error": "meeting \(meetingNumber) is not in progress"]
            }
            giveFloor(meeting: meeting.id, site: nil)
            return ["type": "ok", "meeting": Int(meeting.id), "presenter": directory.sites[meeting.host].id]
        }
        return ["type": "error", "error": "floor needs a site or a meeting"]
    }

    // MARK: Status for the control socket

    func status() -> [String: Any] {
        func finite(_ v: Double) -> Double { v.isFinite ? v : -1 }
        let stats = mailbox.statistics.withLock { $0 }
        let ticks = mailbox.ticks.withLock { $0 }
        return [
            "sites": stats.map { s -> [String: Any] in
                var row: [String: Any] = [
                    "site": s.siteID, "meeting": Int(s.meeting), "address": s.address, "transport": s.transport, "codec": s.audioCodec, "talker": s.talker,
                    "packetsReceived": s.packetsReceived, "packetsLost": Int(s.packetsLost), "packetsSent": s.packetsSent,
                    "jitterMs": finite(s.jitterMilliseconds), "late": s.late, "duplicates": s.duplicates, "reordered": s.reordered,
                    "concealed": s.concealed, "recoveredByFEC": s.recoveredByFEC, "dtxFrames": s.dtxFrames,
                    "jitterBufferTargetMs": Int(s.jitterBufferTargetMilliseconds),
                    "jitterBufferDelayMs": Int(s.jitterBufferDelayMilliseconds), "level": s.level,
                    "removedSamplesForAcceleration": s.removedSamplesForAcceleration,
                    "insertedSamplesForDeceleration": s.insertedSamplesForDeceleration,
                    "framesDroppedInPauses": s.framesDroppedInPauses, "framesInsertedInPauses": s.framesInsertedInPauses,
                    "rtcpPacketsReceived": s.rtcpPacketsReceived, "rtcpAddress": s.rtcpAddress ?? "",
                    "talkerSeconds": finite(s.talkerSeconds), "authenticationFailures": s.authenticationFailures,
                    "replays": s.replays, "otherPayloadsDropped": s.otherPayloadsDropped, "relatches": s.relatches, "remoteFractionLost": finite(s.remoteFractionLost),
                    "remoteJitterMs": finite(s.remoteJitterMilliseconds), "roundTripMs": finite(s.roundTripMilliseconds ?? -1),
                    "video": [
                        "inKbps": s.videoInKilobitsPerSecond, "outKbps": s.videoOutKilobitsPerSecond,
                        "framesPerSecond": s.videoFramesPerSecond, "keyframesPerSecond": s.videoKeyframesPerSecond,
                        "packetsIn": s.video.packetsIn, "packetsOut": s.video.packetsOut,
                        "framesIn": s.video.framesIn, "keyframesIn": s.video.keyframesIn,
                        "keyframeRequestsSent": s.video.keyframeRequestsSent,
                        "keyframeRequestsReceived": s.video.keyframeRequestsReceived,
                        "nacksReceived": s.video.nacksReceived, "nacksAnswered": s.video.nacksAnswered, "nacksOverLimit": s.video.nacksOverLimit,
                        "droppedOverRate": s.video.droppedOverRate, "droppedOversize": s.video.droppedOversize,
                        "droppedPayloadType": s.video.droppedPayloadType, "droppedNotAllowed": s.video.droppedNotAllowed,
                        "droppedMalformed": s.video.droppedMalformed, "switches": s.video.switches,
                        "switchTimeouts": s.video.switchTimeouts,
                        "presenter": s.presenterShown ?? "", "speaker": s.speakerShown ?? "",
                        // REMB (WebRTC peers that take it; -1 otherwise): the rate asked for, and the loss it
                        // followed (-1: nothing measured, the rate held).
                        "rembKbps": s.rembBitsPerSecond.map { Double($0) / 1000 } ?? -1,
                        "rembLossPercent": s.rembLossFraction.map { $0 * 100 } ?? -1,
                        // What the site reports of the video streams it receives (-1: no report of late).
                        "reportedLossPercent": s.videoReportedLossFraction.map { $0 * 100 } ?? -1,
                    ] as [String: Any],
                ]
                if let media = s.sipMedia, let signalling = s.sipSignalling {
                    row["media"] = media
                    row["signalling"] = signalling
                }
                return row
            },
            "pid": Int(getpid()),
            "structures": mailbox.structures.snapshot
                .merging(quality.structureCounts) { a, _ in a }
                .merging(["sessions": sessions.count, "webrtc.nonces": webRTC.seenNonces.withLock { $0.count }]) { a, _ in a },
            "ticks": ticks.ticks, "tickLateP50Us": ticks.lateP50Microseconds, "tickLateP99Us": ticks.lateP99Microseconds,
            "tickLateP99RecentUs": ticks.lateP99RecentMicroseconds, "receiveBudgetExhausted": ticks.receiveBudgetExhausted,
            "receiveDroppedByKernel": ticks.receiveDroppedByKernel,
            "encodesLastTick": ticks.encodesLastTick, "unknownSSRCPackets": ticks.unknownSSRCPackets,
            "refusedWebRTCPackets": ticks.refusedWebRTCPackets,
            "malformedPackets": ticks.malformedPackets, "videoPacketsForwarded": ticks.videoPacketsForwarded,
            "videoForwardP50Us": ticks.videoForwardP50Microseconds, "videoForwardP99Us": ticks.videoForwardP99Microseconds,
        ]
    }
}

extension BridgeServer {
    /// The meeting a site is booked in now (its setup window counts), else its next booking: every
    /// signalling front-end admits a site by this.
    func booking(of site: Site) -> (current: Meeting?, next: Meeting?) {
        let now = Timestamp(wallClock().seconds)
        return store.withLock { store -> (Meeting?, Meeting?) in
            _ = try? store.refresh()
            let current = store.schedule.active(at: now).first { $0.sites.contains(site.index) }
            let upcoming = store.schedule.agenda(site: site.index, from: now, to: now + 366 * 86400)
                .first { $0.isActive && $0.sites.contains(site.index) && $0.reservedFrom > now }
            return (current, upcoming)
        }
    }

    /// A booking as refusals name it ("not booked; next: ...").
    func describe(_ meeting: Meeting) -> [String: Any] {
        ["meeting": Int(meeting.id), "title": meeting.title, "start": iso(meeting.start), "end": iso(meeting.end),
         "roomReadyFrom": iso(meeting.reservedFrom)]
    }
}
