#if canImport(Glibc)
import Glibc
#endif

/// Who gets the CPU first inside the bridge process: the media thread.
///
/// Under a CPU quota for the whole service (systemd's `CPUQuota=`, a container's cpu limit) every thread of
/// the process draws on one budget; under attack the threads that read from outside (join, HTTP, SIP, control,
/// DTLS) are always runnable and would take their fair share of it, leaving the 20 ms mix too little (measured:
/// 34 of 50 packets a second at every site, Scripts/hostile.sh at 35 % of a core). The media thread asks for
/// SCHED_FIFO, which a quota does not limit, but that needs CAP_SYS_NICE (or `LimitRTPRIO=`), and a cgroup v1
/// cpu group gives real-time threads no time unless configured. So, without any privilege, every other thread
/// runs at ``othersNice``: the scheduler weighs it at a tenth of the media thread (nice 0), so while the budget
/// lasts the media thread is picked first, and the others use what it leaves. Linux keeps a nice value per
/// thread and a new thread inherits its creator's: the main thread lowers itself once the media thread is
/// started, before it starts any other.
enum ThreadPriority {
    /// The nice value of every thread but the media thread (weight 110 against 1,024 at nice 0).
    static let othersNice: Int32 = 10
    /// What the media thread asks for when real-time scheduling is refused (allowed with CAP_SYS_NICE or
    /// `LimitNICE=`): a nice value below the default.
    static let mediaNice: Int32 = -10

    /// Lowers the calling thread, and so every thread it starts from now on, to ``othersNice``
    /// (raising one's own nice value needs no privilege). - Returns: whether it was lowered.
    @discardableResult
    static func yieldToMedia() -> Bool {
        setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, othersNice) == 0  // 0: this thread only (Linux)
    }

    /// For the media thread: SCHED_FIFO 10 if allowed, else nice ``mediaNice`` if allowed, else as it is;
    /// - Returns: what it got, for the log.
    static func raiseMedia() -> String {
        var parameters = sched_param(sched_priority: 10)
        if pthread_setschedparam(pthread_self(), SCHED_FIFO, &parameters) == 0 { return "SCHED_FIFO 10" }
        if setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, mediaNice) == 0 {
            return "nice \(mediaNice) (no permission for real-time)"
        }
        return "normal (no permission for real-time), other threads at nice \(othersNice)"
    }
}
