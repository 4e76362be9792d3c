"""Phase 00d, backup strategy: the CloudFormation template, built in code.

AWS Backup vault (KMS-encrypted, failure events to SNS) and plan with daily, weekly and monthly
rules; a backup selection by tag; a DynamoDB table whose point-in-time recovery is set by
parameters; an S3 bucket with versioning, lifecycle for non-current versions and aborted
multipart uploads, and cross-region replication with Replication Time Control; the KMS key, the
SNS topic for failed jobs, and the IAM roles for AWS Backup and for S3 replication.
"""

from __future__ import annotations

from typing import Any

from ial_resilience.aws.cfn import NO_VALUE, And, Equals, GetAtt, If, Not, Ref, Sub, Template
from ial_resilience.aws.s3 import LIFECYCLE_RULE_ID, REPLICATION_RULE_ID, RTC_MINUTES

FAILURE_EVENTS = ("BACKUP_JOB_FAILED", "RESTORE_JOB_FAILED", "COPY_JOB_FAILED",
                  "S3_BACKUP_OBJECT_FAILED", "S3_RESTORE_OBJECT_FAILED")  # fmt: skip
DATA_BUCKET_NAME = "ialr-${Environment}-data-${AWS::AccountId}-${AWS::Region}"
_RETAIN = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}


def _arn(suffix: str) -> Sub:
    return Sub("arn:${AWS::Partition}:" + suffix)


def _trust(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def _backup_tag() -> dict[str, Any]:
    return {"Key": Ref("BackupTagKey"), "Value": Ref("BackupTagValue")}


def add_parameters(t: Template) -> None:
    t.parameter("Environment", "String", "Deployment environment", Default="prod",
                AllowedValues=["dev", "staging", "prod"])  # fmt: skip
    t.parameter("BackupTagKey", "String", "Tag key that selects resources for AWS Backup",
                Default="backup")  # fmt: skip
    t.parameter("BackupTagValue", "String", "Tag value that selects resources for AWS Backup",
                Default="true")  # fmt: skip
    for name, days, what in (
        ("DailyRetentionDays", 35, "daily"),
        ("WeeklyRetentionDays", 90, "weekly"),
        ("MonthlyRetentionDays", 365, "monthly"),
    ):
        t.parameter(name, "Number", f"Days to keep {what} recovery points", Default=days,
                    MinValue=1, MaxValue=36500)  # fmt: skip
    t.parameter("MonthlyColdStorageAfterDays", "Number",
                "Days before monthly recovery points move to cold storage (retention must be "
                "at least 90 days longer)", Default=30, MinValue=1, MaxValue=36500)  # fmt: skip
    t.parameter("EnablePointInTimeRecovery", "String",
                "Point-in-time recovery on the DynamoDB table", Default="true",
                AllowedValues=["true", "false"])  # fmt: skip
    t.parameter("PointInTimeRecoveryDays", "Number",
                "Days of point-in-time recovery kept for the DynamoDB table", Default=35,
                MinValue=1, MaxValue=35)  # fmt: skip
    t.parameter("NoncurrentVersionExpirationDays", "Number",
                "Days before non-current S3 object versions expire", Default=30,
                MinValue=1, MaxValue=36500)  # fmt: skip
    t.parameter("AbortIncompleteMultipartDays", "Number",
                "Days before incomplete multipart uploads are aborted", Default=7,
                MinValue=1, MaxValue=365)  # fmt: skip
    t.parameter("ReplicaBucketName", "String",
                "Bucket in another region receiving replicas (empty: no replication; needs "
                "ReplicaKmsKeyArn too)",
                Default="")  # fmt: skip
    t.parameter(
        "ReplicaKmsKeyArn",
        "String",
        "KMS key ARN in the replica region used to encrypt replicas",
        Default="",
    )
    t.parameter("AlertEmail", "String", "E-mail subscribed to backup failures (empty: none)",
                Default="")  # fmt: skip


def add_conditions(t: Template) -> None:
    t.condition("PitrEnabled", Equals(Ref("EnablePointInTimeRecovery"), "true"))
    t.condition(
        "HasReplica",
        And((Not(Equals(Ref("ReplicaBucketName"), "")), Not(Equals(Ref("ReplicaKmsKeyArn"), "")))),
    )
    t.condition("HasAlertEmail", Not(Equals(Ref("AlertEmail"), "")))


def add_key_and_topic(t: Template) -> None:
    t.resource("BackupKey", "AWS::KMS::Key", {
        "Description": Sub("${AWS::StackName} backups: vault, table, bucket, topic"),
        "EnableKeyRotation": True,
        "KeyPolicy": {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "AccountAdministers", "Effect": "Allow",
                 "Principal": {"AWS": _arn("iam::${AWS::AccountId}:root")},
                 "Action": "kms:*", "Resource": "*"},
                {"Sid": "AwsBackupPublishesEncryptedNotifications", "Effect": "Allow",
                 "Principal": {"Service": "backup.amazonaws.com"},
                 "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*"},
            ],
        },
    }, **_RETAIN)  # fmt: skip
    t.resource("BackupKeyAlias", "AWS::KMS::Alias", {
        "AliasName": Sub("alias/${AWS::StackName}-backup"), "TargetKeyId": Ref("BackupKey"),
    })  # fmt: skip
    t.resource("BackupFailureTopic", "AWS::SNS::Topic", {
        "DisplayName": Sub("${AWS::StackName} backup failures"),
        "KmsMasterKeyId": Ref("BackupKey"),
    })  # fmt: skip
    t.resource("BackupFailureTopicPolicy", "AWS::SNS::TopicPolicy", {
        "Topics": [Ref("BackupFailureTopic")],
        "PolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Sid": "AwsBackupPublishes", "Effect": "Allow",
                           "Principal": {"Service": "backup.amazonaws.com"},
                           "Action": "sns:Publish", "Resource": Ref("BackupFailureTopic")}],
        },
    })  # fmt: skip
    t.resource("BackupFailureEmail", "AWS::SNS::Subscription", {
        "TopicArn": Ref("BackupFailureTopic"), "Protocol": "email", "Endpoint": Ref("AlertEmail"),
    }, Condition="HasAlertEmail")  # fmt: skip


def _rule(name: str, cron: str, lifecycle: dict[str, Any]) -> dict[str, Any]:
    return {
        "RuleName": name,
        "TargetBackupVault": Ref("BackupVault"),
        "ScheduleExpression": cron,
        "StartWindowMinutes": 60,
        "CompletionWindowMinutes": 480,
        "Lifecycle": lifecycle,
        "RecoveryPointTags": {"ialr:rule": name},
    }


def add_backup(t: Template) -> None:
    t.resource("BackupVault", "AWS::Backup::BackupVault", {
        "BackupVaultName": Sub("${AWS::StackName}-vault"),
        "EncryptionKeyArn": GetAtt("BackupKey", "Arn"),
        "Notifications": {"BackupVaultEvents": list(FAILURE_EVENTS),
                          "SNSTopicArn": Ref("BackupFailureTopic")},
    }, **_RETAIN)  # fmt: skip
    rules = [
        _rule("daily", "cron(0 3 * * ? *)", {"DeleteAfterDays": Ref("DailyRetentionDays")}),
        _rule("weekly", "cron(0 4 ? * SUN *)", {"DeleteAfterDays": Ref("WeeklyRetentionDays")}),
        _rule("monthly", "cron(0 5 1 * ? *)", {
            "MoveToColdStorageAfterDays": Ref("MonthlyColdStorageAfterDays"),
            "DeleteAfterDays": Ref("MonthlyRetentionDays"),
        }),
    ]  # fmt: skip
    t.resource("BackupPlan", "AWS::Backup::BackupPlan", {
        "BackupPlan": {"BackupPlanName": Sub("${AWS::StackName}-plan"), "BackupPlanRule": rules},
    })  # fmt: skip
    managed = [
        _arn(f"iam::aws:policy/service-role/AWSBackupServiceRolePolicyFor{kind}")
        for kind in ("Backup", "Restores", "S3Backup", "S3Restore")
    ]
    t.resource("BackupRole", "AWS::IAM::Role", {
        "Description": "AWS Backup takes and restores recovery points of selected resources",
        "AssumeRolePolicyDocument": _trust("backup.amazonaws.com"),
        "ManagedPolicyArns": managed,
    })  # fmt: skip
    t.resource("BackupSelectionByTag", "AWS::Backup::BackupSelection", {
        "BackupPlanId": Ref("BackupPlan"),
        "BackupSelection": {
            "SelectionName": "by-tag",
            "IamRoleArn": GetAtt("BackupRole", "Arn"),
            "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": Ref("BackupTagKey"),
                            "ConditionValue": Ref("BackupTagValue")}],
        },
    })  # fmt: skip


def add_table(t: Template) -> None:
    t.resource("DrillHistoryTable", "AWS::DynamoDB::Table", {
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "scenario", "AttributeType": "S"},
                                 {"AttributeName": "started", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "scenario", "KeyType": "HASH"},
                      {"AttributeName": "started", "KeyType": "RANGE"}],
        "PointInTimeRecoverySpecification": {
            "PointInTimeRecoveryEnabled": If("PitrEnabled", True, False),
            "RecoveryPeriodInDays": If("PitrEnabled", Ref("PointInTimeRecoveryDays"), NO_VALUE),
        },
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS",
                             "KMSMasterKeyId": Ref("BackupKey")},
        "DeletionProtectionEnabled": True,
        "Tags": [_backup_tag(), {"Key": "Environment", "Value": Ref("Environment")}],
    }, **_RETAIN)  # fmt: skip


def _replication() -> dict[str, Any]:
    return {
        "Role": GetAtt("ReplicationRole", "Arn"),
        "Rules": [{
            "Id": REPLICATION_RULE_ID,
            "Priority": 1,
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "DeleteMarkerReplication": {"Status": "Disabled"},
            "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
            "Destination": {
                "Bucket": _arn("s3:::${ReplicaBucketName}"),
                "StorageClass": "STANDARD",
                "EncryptionConfiguration": {"ReplicaKmsKeyID": Ref("ReplicaKmsKeyArn")},
                "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": RTC_MINUTES}},
                "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": RTC_MINUTES}},
            },
        }],
    }  # fmt: skip


def add_bucket(t: Template) -> None:
    t.resource("DataBucket", "AWS::S3::Bucket", {
        "BucketName": Sub(DATA_BUCKET_NAME),
        "VersioningConfiguration": {"Status": "Enabled"},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                              "KMSMasterKeyID": GetAtt("BackupKey", "Arn")},
            "BucketKeyEnabled": True,
        }]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "LifecycleConfiguration": {"Rules": [{
            "Id": LIFECYCLE_RULE_ID,
            "Status": "Enabled",
            "Prefix": "",
            "NoncurrentVersionExpiration": {
                "NoncurrentDays": Ref("NoncurrentVersionExpirationDays")},
            "AbortIncompleteMultipartUpload": {
                "DaysAfterInitiation": Ref("AbortIncompleteMultipartDays")},
        }]},
        "ReplicationConfiguration": If("HasReplica", _replication(), NO_VALUE),
        "Tags": [_backup_tag(), {"Key": "ialr:replication", "Value": "required"}],
    }, **_RETAIN)  # fmt: skip
    t.resource("DataBucketPolicy", "AWS::S3::BucketPolicy", {
        "Bucket": Ref("DataBucket"),
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [GetAtt("DataBucket", "Arn"), Sub("${DataBucket.Arn}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }]},
    })  # fmt: skip


def add_replication_role(t: Template) -> None:
    t.resource("ReplicationRole", "AWS::IAM::Role", {
        "Description": "S3 replicates the data bucket to the replica bucket in another region",
        "AssumeRolePolicyDocument": _trust("s3.amazonaws.com"),
        "Policies": [{"PolicyName": "s3-replication", "PolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow",
                 "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                 "Resource": _arn(f"s3:::{DATA_BUCKET_NAME}")},
                {"Effect": "Allow",
                 "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                            "s3:GetObjectVersionTagging"],
                 "Resource": _arn(f"s3:::{DATA_BUCKET_NAME}/*")},
                {"Effect": "Allow",
                 "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                 "Resource": _arn("s3:::${ReplicaBucketName}/*")},
                {"Effect": "Allow", "Action": "kms:Decrypt",
                 "Resource": GetAtt("BackupKey", "Arn")},
                {"Effect": "Allow", "Action": "kms:Encrypt",
                 "Resource": Ref("ReplicaKmsKeyArn")},
            ],
        }}],
    }, Condition="HasReplica")  # fmt: skip


def add_outputs(t: Template) -> None:
    for name, value, text in (
        ("BackupVaultName", Ref("BackupVault"), "AWS Backup vault"),
        ("BackupVaultArn", GetAtt("BackupVault", "BackupVaultArn"), "AWS Backup vault ARN"),
        ("BackupPlanId", Ref("BackupPlan"), "AWS Backup plan (daily, weekly, monthly)"),
        ("BackupFailureTopicArn", Ref("BackupFailureTopic"), "SNS topic for failed jobs"),
        ("BackupKeyArn", GetAtt("BackupKey", "Arn"), "KMS key encrypting backups"),
        ("DrillHistoryTableName", Ref("DrillHistoryTable"), "DynamoDB table with PITR"),
        ("DataBucketName", Ref("DataBucket"), "Versioned, replicated S3 bucket"),
    ):
        t.output(name, value, text, Export={"Name": Sub("${AWS::StackName}-" + name)})


def build() -> Template:
    template = Template(
        "IaL phase 00d: backup strategy - AWS Backup vault and plan (daily/weekly/monthly), "
        "selection by tag, DynamoDB PITR, S3 versioning, lifecycle and replication with RTC"
    )
    for step in (add_parameters, add_conditions, add_key_and_topic, add_backup, add_table,
                 add_bucket, add_replication_role, add_outputs):  # fmt: skip
        step(template)
    return template
