/**
 * The parsed, validated form of a scenario file (docs/scenario-format.md).
 * Every default the format documents is already applied here, so the runner never has to
 * guess. 64-bit quantities (addresses, pfns, sizes) are bigint; small counts are number.
 */

export type ErrnoName =
  | 'EPERM'
  | 'EIO'
  | 'ENXIO'
  | 'ENOMEM'
  | 'EFAULT'
  | 'EBUSY'
  | 'ENODEV'
  | 'EINVAL'
  | 'ERANGE'
  | 'ENODATA'
  | 'EOPNOTSUPP'
  | 'EUCLEAN'
  | 'EHWPOISON';

/** `0` for success, otherwise an errno name. `EFSCORRUPTED` in a file is read as `EUCLEAN`. */
export type Rc = 0 | ErrnoName;

/** What `expect.injections.<id>.rc` may say: an Rc, or PANIC when memory_failure() panicked. */
export type ExpectedRc = Rc | 'PANIC';

export interface Scenario {
  name: string;
  description: string;
  /** The file it came from, as given on the command line (or '<string>'). */
  file: string;
  sysctl: {
    /** vm.memory_failure_early_kill, 0 or 1 (default 0). */
    memoryFailureEarlyKill: 0 | 1;
    /** vm.memory_failure_recovery, 0 or 1 (default 1). 0 = panic on memory failure. */
    memoryFailureRecovery: 0 | 1;
  };
  /**
   * Optional extension (documented in the project's scenario docs): the debugfs hwpoison
   * filter. `true` = corrupt-filter-enable is set and the filter excludes DAX pages.
   * Default false.
   */
  hwpoisonFilter: boolean;
  /**
   * Optional extension: how a device removal finds the mapped pages — 'rmap' (upstream, the
   * default: absent), 'pfn-walk' or 'inode-walk' (the two strategies upstream does not use).
   */
  unbindStrategy?: 'rmap' | 'pfn-walk' | 'inode-walk';
  pmem: PmemSpec[];
  dm: DmSpec[];
  filesystems: FilesystemSpec[];
  processes: ProcessSpec[];
  injections: InjectionSpec[];
  /** undefined when the file has no `expect` section. */
  expect: ExpectSpec | undefined;
}

export interface PmemSpec {
  name: string;
  physAddr: bigint;
  size: bigint;
  dataOffset: bigint;
  pfnPad: bigint; // default 0
  mode: 'fsdax' | 'raw'; // default fsdax
  badblocks: { sector: bigint; count: bigint }[]; // default []
  partitions: { name: string; start: bigint; sectors: bigint }[]; // default []
}

export interface DmTargetSpec {
  begin: bigint; // sectors
  len: bigint; // sectors
  type: 'linear';
  /** A pmem namespace name or a partition name. */
  device: string;
  start: bigint; // sectors
}

export interface DmSpec {
  name: string;
  mode: 'proposal' | 'upstream'; // default proposal
  table: DmTargetSpec[];
}

export type SpecialOwner =
  | 'OWN_NULL'
  | 'OWN_UNKNOWN'
  | 'OWN_FS'
  | 'OWN_LOG'
  | 'OWN_AG'
  | 'OWN_INOBT'
  | 'OWN_INODES'
  | 'OWN_REFC'
  | 'OWN_COW';

export interface BlockRange {
  block: bigint;
  count: bigint;
}

export interface ExtentSpec {
  offset: bigint; // file block
  block: bigint; // filesystem block, linear from the start of the data device
  count: bigint;
}

export interface FileSpec {
  path: string;
  ino: bigint;
  kind: 'regular' | 'directory'; // default regular
  cache: 'active' | 'uncached' | 'transient'; // default active
  daxFlag: boolean; // default false
  extents: ExtentSpec[]; // default []
  attrBlocks: BlockRange[]; // default []
  bmbtBlocks: BlockRange[]; // default []
}

export interface FilesystemSpec {
  name: string;
  type: 'xfs' | 'ext4'; // default xfs
  /** A pmem namespace, a partition or a dm device name. */
  device: string;
  /** An external log device (a whole pmem namespace), or undefined. */
  logDevice: string | undefined;
  blockSize: number; // default 4096
  agBlocks: bigint; // required for xfs; for ext4 the default is 32768 (blocks per group)
  /** undefined = as many as fit (the last may be short). */
  agCount: number | undefined;
  rmapbt: boolean; // default true
  reflink: boolean; // default true
  dax: 'always' | 'never' | 'inode'; // default always
  state: 'mounted' | 'mounting'; // default mounted
  frozen: 'none' | 'user'; // default none
  metadata: { owner: SpecialOwner; block: bigint; count: bigint }[]; // default []
  cowStaging: BlockRange[]; // default []
  files: FileSpec[]; // default []
}

export interface MmapSpec {
  fs: string;
  path: string;
  start: bigint; // page-aligned virtual address
  pgoff: bigint; // file page of the first mapped page
  pages: number;
  shared: boolean; // default true
  /** Mapping-relative page numbers present at set-up, ascending, unique. `all` and `none` expanded. */
  faulted: number[];
  pmd: boolean; // default false
}

export interface ProcessSpec {
  pid: number;
  /** Already truncated to 15 characters, as the kernel does. */
  comm: string;
  mceKill: 'default' | 'early' | 'late'; // default default
  capSysAdmin: boolean; // default true
  mmaps: MmapSpec[]; // default []
}

export type InjectionSpec =
  | { id: string; kind: 'madvise'; pid: number; addr: bigint; pages: number }
  | { id: string; kind: 'corruptPfn'; pfn: bigint }
  | { id: string; kind: 'mce'; pid: number; pfn: bigint; ripv: boolean }
  | { id: string; kind: 'background'; pfn: bigint }
  | { id: string; kind: 'unbind'; device: string; pid: number }
  | { id: string; kind: 'access'; pid: number; addr: bigint };

export type SignalName = 'SIGBUS' | 'SIGKILL';
export type SiCodeName = 'BUS_MCEERR_AR' | 'BUS_MCEERR_AO' | 'BUS_ADRERR' | 'SI_KERNEL';
export type ShutdownName =
  | 'none'
  | 'SHUTDOWN_META_IO_ERROR'
  | 'SHUTDOWN_LOG_IO_ERROR'
  | 'SHUTDOWN_FORCE_UMOUNT'
  | 'SHUTDOWN_CORRUPT_INCORE'
  | 'SHUTDOWN_CORRUPT_ONDISK'
  | 'SHUTDOWN_DEVICE_REMOVED';
export type MfResultName = 'Ignored' | 'Failed' | 'Delayed' | 'Recovered';

export interface ExpectedSignal {
  pid: number;
  signo: SignalName; // default SIGBUS
  code: SiCodeName;
  addr: bigint | undefined;
  lsb: number | undefined;
}

/** Each field is optional: `expect` lists only what must hold. */
export interface ExpectSpec {
  injections?: Record<string, { rc: ExpectedRc }>;
  signals?: ExpectedSignal[];
  actionResults?: { pfn: bigint; type: string; result: MfResultName }[];
  filesystems?: Record<
    string,
    { shutdown?: ShutdownName; frozen?: 'none' | 'user'; dax?: boolean; mountError?: ErrnoName | null }
  >;
  devices?: Record<string, { alive?: boolean; holder?: string }>;
  pages?: { pfn: bigint; hwpoison: boolean }[];
  ptes?: { pid: number; addr: bigint; present: boolean }[];
  /** Compared by id and status only: incident and trace ids differ between runs and modes. */
  incidents?: { id: string; status: 'complete' | 'not-run' | undefined }[];
}

/** One problem found in a scenario file. `path` is like `injections[0].madvise.addr`. */
export interface ScenarioIssue {
  file: string;
  path: string;
  message: string;
}
