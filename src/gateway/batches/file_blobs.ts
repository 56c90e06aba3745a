// Where /v1/files keeps the bytes of its files: a folder (the data directory's, by default: one
// gateway) or S3-compatible storage (`--files s3://bucket/prefix`: every replica reads the
// same files). The metadata lives in the gateway's store (file_objects.ts).
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatS3Uri, isS3Uri, objectKey, parseS3Uri, s3ClientFromEnv, type S3Location } from '../../weights/s3_location.ts';

export interface FileBlobs {
  put(id: string, data: Uint8Array | string): Promise<void>;
  get(id: string): Promise<Uint8Array<ArrayBuffer>>;
  remove(id: string): Promise<void>;
  /** Where the bytes are, for the logs: "folder /path" or "s3://bucket/prefix". */
  readonly description: string;
  /** On this machine only. */
  readonly local: boolean;
}

class FolderBlobs implements FileBlobs {
  readonly local = true;

  constructor(private readonly dir: string) {}

  get description() {
    return `folder ${this.dir}`;
  }

  async put(id: string, data: Uint8Array | string): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFile(join(this.dir, id), data, { mode: 0o600 });
  }

  get(id: string): Promise<Uint8Array<ArrayBuffer>> {
    return readFile(join(this.dir, id));
  }

  remove(id: string): Promise<void> {
    return rm(join(this.dir, id), { force: true });
  }
}

class S3Blobs implements FileBlobs {
  readonly local = false;

  constructor(
    private readonly client: S3Client,
    private readonly at: S3Location,
  ) {}

  get description() {
    return formatS3Uri(this.at);
  }

  async put(id: string, data: Uint8Array | string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.at.bucket, Key: objectKey(this.at, id), Body: data }));
  }

  async get(id: string): Promise<Uint8Array<ArrayBuffer>> {
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.at.bucket, Key: objectKey(this.at, id) }));
    return Uint8Array.from(await res.Body!.transformToByteArray());
  }

  async remove(id: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.at.bucket, Key: objectKey(this.at, id) }));
  }
}

/** `s3://bucket/prefix` (credentials and endpoint from the AWS environment), else a folder. */
export function openFileBlobs(where: string): FileBlobs {
  return isS3Uri(where) ? new S3Blobs(s3ClientFromEnv(), parseS3Uri(where)) : new FolderBlobs(where);
}
