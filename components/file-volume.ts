import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

export interface StagedFile {
  /** path inside the volume, e.g. "tls/server.key" */
  path: string;
  content: pulumi.Input<string>;
  /** numeric owner and group: the uid the consuming service runs as, or 0 for root-owned read-only files */
  owner: number;
  group?: number;
  /** octal permission string, e.g. "0400" for a private key */
  mode: string;
}

export interface FileVolumeArgs {
  /** Docker volume name */
  volumeName: pulumi.Input<string>;
  /** an image already on the Docker host (the consuming service's); it is never run */
  image: pulumi.Input<string>;
  files: StagedFile[];
}

/** Where the loader mounts the volume; files are uploaded below it. */
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
        mounts: [{ type: "volume", source: this.volume.name, target: STAGING }],
        uploads: args.files.map((file) => ({
          file: `${STAGING}/${file.path}`,
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
