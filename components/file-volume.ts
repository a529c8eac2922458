import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

export interface StagedFile {
  /** path inside the volume, e.g. "tls/server.key" */
  path: string;
  content: pulumi.Input<string>;
  /**
   * Numeric owner and group: the uid the consuming service runs as. Defence in depth only: the
   * upload owner is a newer provider feature whose effect the program does not rely on (see mode).
   */
  owner: number;
  group?: number;
  /**
   * Octal permission string. Files are never writable; secrets are "0444" too, which is safe
   * because each files volume is mounted by exactly one service, which runs as one uid: the
   * mode lets that uid read the file whoever the owner turns out to be.
   */
  mode: "0444" | "0555";
}

/** Makes the read-only (0444) files of a service that runs as `user` (see StagedFile.mode for why 0444). */
export function stagedFileFor(user: { uid: number; gid: number }): (path: string, content: pulumi.Input<string>) => StagedFile {
  return (path, content) => ({ path, content, owner: user.uid, group: user.gid, mode: "0444" });
}

export interface FileVolumeArgs {
  /** Docker volume name */
  volumeName: pulumi.Input<string>;
  /** an image already on the Docker host (the consuming service's); it is never run */
  image: pulumi.Input<string>;
  files: StagedFile[];
  /**
   * Where the loader mounts the volume. Default "/staging", which no image has. A path that the
   * loader's image does have (e.g. a directory owned by the service's uid) gives the new, empty
   * volume that directory's owner and mode: Docker copies them into an empty named volume when a
   * container that mounts it is created, even if the container never starts (shown on Engine 20.10
   * by test/engine/engine-facts.engine.test.ts). A volume the service must write into is made this way.
   */
  mountPath?: string;
}

const STAGING = "/staging";

/**
 * A Docker volume filled with generated files (certificates, keys, provisioning), for services
 * whose root filesystem is read-only.
 *
 * Why this shape: the Docker provider uploads files with `docker cp` to "/", and Docker refuses
 * that for a container with a read-only root filesystem (moby: "container rootfs is marked
 * read-only"), so files cannot be uploaded into the hardened service containers themselves. Bind
 * mounts of host files would not work with a remote Docker host (docker:host=ssh://...), and baking
 * keys into an image would put secrets into image layers. So a loader container, which is created
 * but never started (no process ever runs in it, no network), mounts the volume and receives the
 * uploads with the right owner and mode; the service then mounts the volume read-only.
 * When any file changes, the loader is replaced and re-uploads; `revision` changes with it, and
 * services put it into a label so that they are recreated and read the new files.
 */
export class FileVolume extends pulumi.ComponentResource {
  readonly volume: docker.Volume;
  readonly volumeName: pulumi.Output<string>;
  /** changes whenever the files were uploaded anew */
  readonly revision: pulumi.Output<string>;

  constructor(name: string, args: FileVolumeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("iot:index:FileVolume", name, {}, opts);
    const mountPath = args.mountPath ?? STAGING;
    for (const file of args.files) {
      if (file.path.startsWith("/") || file.path.split("/").includes("..")) {
        throw new Error(`${name}: staged file path must be relative and stay inside the volume: ${file.path}`);
      }
    }
    this.volume = new docker.Volume(`${name}-volume`, { name: args.volumeName, driver: "local" }, { parent: this });
    const loader = new docker.Container(
      `${name}-loader`,
      {
        name: pulumi.interpolate`${args.volumeName}-loader`,
        image: args.image,
        start: false,
        mustRun: false,
        networkMode: "none",
        user: "65534:65534",
        // Required for the uploads (see above); the container never starts, so nothing runs with it.
        readOnly: false,
        capabilities: { drops: ["ALL"] },
        securityOpts: ["no-new-privileges:true"],
        mounts: [{ type: "volume", source: this.volume.name, target: mountPath }],
        uploads: args.files.map((file) => ({
          file: `${mountPath}/${file.path}`,
          content: file.content,
          owner: String(file.owner),
          group: String(file.group ?? file.owner),
          permissions: file.mode,
        })),
      },
      { parent: this, deleteBeforeReplace: true },
    );
    this.volumeName = this.volume.name;
    this.revision = loader.id;
    this.registerOutputs({ volumeName: this.volumeName, revision: this.revision });
  }
}
