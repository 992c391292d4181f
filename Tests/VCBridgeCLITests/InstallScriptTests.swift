import Foundation
import Testing

/// `Scripts/install.sh` into a staging root (`--destdir`, never this machine's /usr/local or /etc), then the
/// installed unit's ExecStart run as systemd would: as the unit's user, with its capabilities, descriptor limit,
/// umask and file-system sandbox applied by `unshare`/`setpriv` (this machine runs no systemd), checked from the
/// outside through /proc; `systemd-analyze verify` and `security` on the unit.
@Suite("install as a service", .serialized)
struct InstallScriptTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let script = packageRoot + "/Scripts/install.sh"
    static let isRoot = getuid() == 0
    /// CAP_SYS_NICE (23) alone, as /proc/PID/status shows a capability set.
    static let sysNiceOnly = "0000000000800000"

    /// A staging root in the package's build directory (wherever the checkout is: the sandbox brings it back if an
    /// empty /tmp or /home would hide it).
    static func stagingRoot() throws -> String {
        let root = packageRoot + "/.build/install-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        chmod(root, 0o755)
        return root
    }

    /// - Parameter user: the service's account (nil: the installer's default, `vcbridge`); by default an account
    ///   that exists here: nobody as root, else the test's own user.
    static func install(_ destdir: String, _ extra: [String] = [],
                        user: String? = isRoot ? "nobody" : String(cString: getpwuid(getuid())!.pointee.pw_name)) throws
        -> (status: Int32, output: String)
    {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [script, "--destdir", destdir, "--binary", VCBridgeProcess.executable.path] + (user.map { ["--user", $0] } ?? []) + extra
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, output)
    }

    /// The `[Service]` section: key → values in order (a key may be given more than once).
    static func serviceSection(_ unit: String) -> [String: [String]] {
        var section = ""
        var keys: [String: [String]] = [:]
        for raw in unit.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") { section = line; continue }
            guard section == "[Service]", let eq = line.firstIndex(of: "=") else { continue }
            keys[String(line[..<eq]), default: []].append(String(line[line.index(after: eq)...]))
        }
        return keys
    }

    static func mode(_ path: String) -> (mode: Int, uid: UInt32)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (Int(st.st_mode) & 0o7777, st.st_uid)
    }

    @Test func installsIdempotentlyRunsSandboxedAndUninstalls() throws {
        let root = try Self.stagingRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let first = try Self.install(root)
        try #require(first.status == 0, "\(first.output)")

        let binary = root + "/usr/local/bin/vcbridge"
        let config = root + "/etc/vcbridge/vcbridge.json"
        let data = root + "/var/lib/vcbridge"
        let unitPath = root + "/etc/systemd/system/vcbridge.service"
        #expect(Self.mode(binary)?.mode == 0o755)
        #expect(Self.mode(data)?.mode == 0o700, "the data directory must be owner-only")
        let serviceUser = Self.isRoot ? UInt32(65534) : getuid()
        #expect(Self.mode(data)?.uid == serviceUser, "the data directory belongs to the service's user")
        #expect(Self.mode(config).map { $0.mode & 0o007 } == 0, "the settings (they may hold SIP credentials) are not for others")

        // Only the keys an operator changes, and every one of them valid for the binary.
        let operatorFile = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config))) as! [String: Any]
        #expect(Set(operatorFile.keys) == ["sites", "bridge", "quality", "sip", "schedule"])
        #expect((operatorFile["sites"] as? [String: Any])?["directory"] as? String == "vinhphuc-2024", "the directory a province chooses")
        #expect(operatorFile["video"] == nil)
        #expect((operatorFile["bridge"] as? [String: Any])?["listenAddress"] as? String == "0.0.0.0")
        #expect((operatorFile["bridge"] as? [String: Any])?["joinTimeoutMs"] == nil, "a tuning key an operator leaves alone")
        let shown = try VCBridgeProcess.run(["config", "--config", config])
        #expect(shown.status == 0, "\(shown.stderr)")

        // The operator edits the settings; installing again (an upgrade) keeps them and changes nothing else.
        var edited = operatorFile
        var bridge = edited["bridge"] as! [String: Any]
        bridge["listenAddress"] = "127.0.0.1"
        bridge["signalingPort"] = 0
        bridge["mediaPort"] = 0
        edited["bridge"] = bridge
        let editedData = try JSONSerialization.data(withJSONObject: edited, options: [.prettyPrinted, .sortedKeys])
        try editedData.write(to: URL(fileURLWithPath: config))
        let unitBefore = try String(contentsOfFile: unitPath, encoding: .utf8)
        let second = try Self.install(root)
        try #require(second.status == 0, "\(second.output)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: config)) == editedData, "an upgrade must keep the operator's settings")
        #expect(try String(contentsOfFile: unitPath, encoding: .utf8) == unitBefore)
        #expect(Self.mode(data)?.mode == 0o700)

        // The unit: restart on failure, a descriptor limit, CAP_SYS_NICE and nothing else, the sandbox.
        let unit = Self.serviceSection(unitBefore)
        func value(_ key: String) -> String? { unit[key]?.last }
        #expect(value("Restart") == "on-failure")
        #expect(value("CapabilityBoundingSet") == "CAP_SYS_NICE")
        #expect(value("AmbientCapabilities") == "CAP_SYS_NICE")
        #expect(value("NoNewPrivileges") == "yes")
        #expect(value("ProtectSystem") == "strict")
        #expect(value("ReadWritePaths") == "/var/lib/vcbridge")
        #expect(value("PrivateTmp") == "yes")
        #expect(value("ProtectHome") == "yes")
        for key in ["ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups"] {
            #expect(value(key) == "yes", "\(key)")
        }
        #expect(value("RestrictAddressFamilies") == "AF_UNIX AF_INET AF_INET6")
        #expect(unit["SystemCallFilter"] == ["@system-service", "~@privileged"])
        #expect(value("RestrictRealtime") == nil, "RestrictRealtime would deny the media thread SCHED_FIFO")
        #expect(value("StandardError") == "journal")
        let limit = try #require(value("LimitNOFILE").flatMap { Int($0) })
        let user = try #require(value("User"))
        let group = try #require(value("Group"))

        // ExecStart as the service runs it: the paths under the staging root, nothing else changed.
        let execStart = try #require(value("ExecStart")).split(separator: " ").map(String.init)
        #expect(execStart.first == "/usr/local/bin/vcbridge")
        let command = execStart.map { $0.hasPrefix("/") && FileManager.default.fileExists(atPath: root + $0) ? root + $0 : $0 }
        #expect(command.contains(config) && command.contains(data), "ExecStart names the settings and the data directory: \(execStart)")

        let log = LogBuffer()
        let service = Process()
        if Self.isRoot {
            // ProtectSystem=strict + ReadWritePaths, PrivateTmp, ProtectHome, ProtectProc=invisible + ProcSubset=pid
            // in a private mount namespace;
            // LimitNOFILE, UMask; User/Group, the capability sets and NoNewPrivileges by setpriv.
            // The staging root stands in for /: when the checkout lives under /tmp, /home or /root (a CI clone), the
            // empty file systems put there hide it, so it is bound back at its own path (read-only, the data directory
            // writable), as the unit's paths name it.
            let sandbox = """
                set -e
                stage="$1"; data="$2"; shift 2
                exec 3<"$stage"
                mount --bind "$data" "$data"
                for mp in $(awk '{print $5}' /proc/self/mountinfo | sort -u); do
                    case "$mp" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
                    mount -o remount,bind,ro "$mp" 2>/dev/null || true
                done
                mount -o remount,bind,rw "$data"
                mount -t tmpfs -o mode=1777 tmpfs /tmp
                [ -d /var/tmp ] && mount -t tmpfs -o mode=1777 tmpfs /var/tmp
                hidden=""
                for h in /home /root /run/user; do [ -d "$h" ] && mount -t tmpfs -o mode=0755 tmpfs "$h" && hidden="$hidden $h"; done
                if [ ! -d "$stage/usr" ]; then
                    mkdir -p "$stage"
                    mount --no-canonicalize --bind /proc/self/fd/3 "$stage"
                    mount --bind "$data" "$data"
                    mount -o remount,bind,rw "$data"
                fi
                exec 3<&-
                for h in $hidden; do mount -o remount,ro "$h"; done
                mount -t proc -o subset=pid,hidepid=invisible proc /proc
                ulimit -n \(limit) 2>/dev/null || ulimit -n $(ulimit -Hn)
                umask 0077
                exec setpriv --reuid="\(user)" --regid="\(group)" --clear-groups \
                    --inh-caps=-all,+sys_nice --ambient-caps=-all,+sys_nice --bounding-set=-all,+sys_nice \
                    --no-new-privs -- "$@"
                """
            service.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
            service.arguments = ["--mount", "--propagation", "private", "/bin/sh", "-c", sandbox, "sandbox", root, data] + command
        } else {
            service.executableURL = URL(fileURLWithPath: command[0])
            service.arguments = Array(command.dropFirst())
        }
        service.environment = ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"]
        let pipe = Pipe()
        service.standardError = pipe
        service.standardOutput = pipe
        pipe.fileHandleForReading.readabilityHandler = { log.append(String(decoding: $0.availableData, as: UTF8.self)) }
        try service.run()
        defer {
            if service.isRunning {
                kill(service.processIdentifier, SIGKILL)
                service.waitUntilExit()
            }
        }
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, service.isRunning, !log.text.contains("event=listening") { Thread.sleep(forTimeInterval: 0.05) }
        try #require(log.text.contains("event=listening"), "the service did not start: \(log.text)")

        // It serves: the control socket answers, the schedule is read from the data directory.
        let status = try VCBridgeProcess.run(["status", "--data-dir", data])
        #expect(status.status == 0, "\(status.stdout)\(status.stderr)")
        #expect(Self.mode(data + "/bookings.journal")?.uid == serviceUser)
        #expect(Self.mode(data + "/bridge.sock")?.mode == 0o600)

        if Self.isRoot {
            let pid = service.processIdentifier
            let procStatus = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            func field(_ name: String) -> String? {
                procStatus.split(separator: "\n").first { $0.hasPrefix(name + ":") }
                    .map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) }
            }
            #expect(field("Uid")?.split(separator: "\t").first == "65534")
            for set in ["CapEff", "CapPrm", "CapAmb", "CapBnd"] { #expect(field(set) == Self.sysNiceOnly, "\(set)") }
            #expect(field("NoNewPrivs") == "1")
            #expect(log.text.contains("SCHED_FIFO 10"), "CAP_SYS_NICE lets the media thread run real-time: \(log.text)")
            let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
            // LimitNOFILE, or this machine's hard limit when it is lower and root here may not raise it (no CAP_SYS_RESOURCE).
            var hard = rlimit()
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &hard)
            let expected = hard.rlim_max == rlim_t.max ? limit : min(limit, Int(hard.rlim_max))
            #expect(limits.split(separator: "\n").contains { $0.hasPrefix("Max open files") && $0.contains(" \(expected) ") }, "\(limits)")
            #expect(log.text.contains("descriptors=\(expected)"))
            let mounts = try String(contentsOfFile: "/proc/\(pid)/mountinfo", encoding: .utf8).split(separator: "\n")
            func options(_ point: String) -> [Substring]? {
                mounts.last { $0.split(separator: " ")[4] == point }?.split(separator: " ")[5].split(separator: ",")
            }
            #expect(options("/")?.contains("ro") == true, "ProtectSystem=strict: the root is read-only")
            #expect(options(data)?.contains("rw") == true, "ReadWritePaths: the data directory is writable")
        }

        // SIGTERM, as systemctl stop sends: a clean exit.
        kill(service.processIdentifier, SIGTERM)
        let stopBy = Date().addingTimeInterval(15)
        while service.isRunning, Date() < stopBy { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!service.isRunning && service.terminationStatus == 0, "\(log.text)")

        // Uninstall: the program and unit go, the settings and data stay (twice: still fine).
        for _ in 0..<2 {
            let removed = try Self.install(root, ["--uninstall"])
            #expect(removed.status == 0, "\(removed.output)")
        }
        #expect(!FileManager.default.fileExists(atPath: binary))
        #expect(!FileManager.default.fileExists(atPath: unitPath))
        #expect(FileManager.default.fileExists(atPath: config))
        #expect(FileManager.default.fileExists(atPath: data + "/bookings.journal"))
        let purged = try Self.install(root, ["--uninstall", "--purge"])
        #expect(purged.status == 0, "\(purged.output)")
        #expect(!FileManager.default.fileExists(atPath: config))
        #expect(!FileManager.default.fileExists(atPath: data))
    }

    /// `systemd-analyze verify` on the installed unit (its binary found under the staging root), and
    /// `systemd-analyze security` rating its sandbox.
    @Test func systemdAcceptsTheUnit() throws {
        guard let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            Issue.record("systemd-analyze is not installed (apt-get install systemd): the unit was not verified")
            return
        }
        let root = try Self.stagingRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        // The account the unit names by default, which this machine does not have (nothing is created under --destdir).
        let installed = try Self.install(root, user: nil)
        try #require(installed.status == 0, "\(installed.output)")
        func run(_ arguments: [String]) throws -> (Int32, String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: analyze)
            p.arguments = arguments
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = pipe
            try p.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            return (p.terminationStatus, output)
        }
        let unit = root + "/etc/systemd/system/vcbridge.service"
        // verify checks ExecStart's program exists: a copy of the unit whose ExecStart names the staged binary.
        let copyDirectory = root + "/verify"
        try FileManager.default.createDirectory(atPath: copyDirectory, withIntermediateDirectories: true)
        let text = try String(contentsOfFile: unit, encoding: .utf8)
        #expect(text.contains("\nExecStart=/usr/local/bin/vcbridge "))
        try text.replacingOccurrences(of: "\nExecStart=/usr/local/bin/vcbridge ", with: "\nExecStart=\(root)/usr/local/bin/vcbridge ")
            .write(toFile: copyDirectory + "/vcbridge.service", atomically: true, encoding: .utf8)
        let verified = try run(["verify", copyDirectory + "/vcbridge.service"])
        #expect(verified.0 == 0 && verified.1.isEmpty, "systemd-analyze verify: \(verified.1)")
        // An exposure of 2.0 or less is what systemd calls "OK" (a plain service scores 9.6, "UNSAFE").
        let security = try run(["security", "--offline=yes", "--root=\(root)", "--threshold=20", unit])
        #expect(security.0 == 0, "systemd-analyze security: \(security.1)")
    }
}
