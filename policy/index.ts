// pulumi preview --policy-pack policy   (or pulumi up --policy-pack policy)
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./rules";

new PolicyPack("secure-iot-baseline", { policies });
